"""Quantities that follow the number of real images shown so far (nimg): D input blur, pose-swap
probability, EMA decay. Pure functions, so a resumed run recomputes them exactly."""

from __future__ import annotations

import math


def blur_sigma(nimg: int, init_sigma: float, fade_kimg: float) -> float:
    """Gaussian blur (pixels) of D's inputs: init_sigma at the start, linearly down to 0 at fade_kimg."""
    if fade_kimg <= 0 or init_sigma <= 0:
        return 0.0
    return max(1.0 - nimg / (fade_kimg * 1e3), 0.0) * init_sigma


def swap_probability(nimg: int, prob: float | None, fade_kimg: float) -> float | None:
    """Probability that the mapping is conditioned on another sample's camera (fades from 1 to `prob`)."""
    if prob is None:
        return None
    alpha = min(nimg / (fade_kimg * 1e3), 1.0) if fade_kimg > 0 else 1.0
    return (1.0 - alpha) + alpha * prob


def ema_beta(nimg: int, batch: int, half_life_kimg: float, rampup: float | None) -> float:
    """Decay of G_ema for one step of `batch` images: half-life in images, limited to rampup * nimg early on."""
    half_life = half_life_kimg * 1000
    if rampup is not None:
        half_life = min(half_life, nimg * rampup)
    return 0.5 ** (batch / max(half_life, 1e-8)) if half_life > 0 else 0.0


def lazy_ratio(interval: int | None) -> float:
    """StyleGAN2's lazy-regularization correction: a phase every `interval` steps adds 1/interval updates."""
    return 1.0 if not interval else interval / (interval + 1)


def steps_for(kimg: float, batch: int) -> int:
    """Training steps needed to show `kimg` thousand images."""
    return int(math.ceil(kimg * 1000 / batch))
