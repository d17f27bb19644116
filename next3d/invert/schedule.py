"""Learning-rate shape of the optimisation phases: short warm-up, flat, cosine ramp-down over the last quarter."""

from __future__ import annotations

import math


def lr_factor(step: int, steps: int, warmup: float = 0.05, rampdown: float = 0.25) -> float:
    """Multiplier in (0, 1] for 0-based `step` of `steps`."""
    t = step / max(steps, 1)
    down = min(1.0, (1.0 - t) / rampdown)
    down = 0.5 - 0.5 * math.cos(down * math.pi)
    up = min(1.0, (t + 1.0 / max(steps, 1)) / warmup) if warmup > 0 else 1.0
    return max(down * up, 1e-3)
