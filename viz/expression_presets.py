"""Expression presets by blendshape name (ARKit-style names, matched ignoring case and separators).

A preset applies to any head whose expression names contain some of its keys; heads with unnamed PCA
expressions (FLAME) only get the presets that need no names (neutral, jaw-driven ones).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExpressionPreset:
    name: str
    weights: dict[str, float] = field(default_factory=dict)  # expression name -> value
    jaw_open: float = 0.0                                    # radians about +x (positive opens the mouth)


PRESETS = (
    ExpressionPreset("Neutral"),
    ExpressionPreset("Smile", {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "cheekSquintLeft": 0.4,
                               "cheekSquintRight": 0.4, "eyeSquintLeft": 0.25, "eyeSquintRight": 0.25}),
    ExpressionPreset("Grin", {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0, "mouthStretchLeft": 0.3,
                              "mouthStretchRight": 0.3, "cheekSquintLeft": 0.6, "cheekSquintRight": 0.6,
                              "jawOpen": 0.2}, jaw_open=0.08),
    ExpressionPreset("Surprise", {"browInnerUp": 1.0, "browOuterUpLeft": 0.9, "browOuterUpRight": 0.9,
                                  "eyeWideLeft": 0.8, "eyeWideRight": 0.8, "jawOpen": 0.5}, jaw_open=0.2),
    ExpressionPreset("Anger", {"browDownLeft": 1.0, "browDownRight": 1.0, "noseSneerLeft": 0.6,
                               "noseSneerRight": 0.6, "mouthPressLeft": 0.5, "mouthPressRight": 0.5,
                               "eyeSquintLeft": 0.4, "eyeSquintRight": 0.4}),
    ExpressionPreset("Sadness", {"browInnerUp": 0.8, "mouthFrownLeft": 0.8, "mouthFrownRight": 0.8,
                                 "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2}),
    ExpressionPreset("Wink", {"eyeBlinkLeft": 1.0, "mouthSmileLeft": 0.5, "cheekSquintLeft": 0.4}),
    ExpressionPreset("Pout", {"mouthPucker": 0.9, "mouthFunnel": 0.3}),
    ExpressionPreset("Mouth open", {"jawOpen": 0.7}, jaw_open=0.3),
)


def normalize(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def preset_values(preset: ExpressionPreset, names: tuple[str, ...], named: bool) -> tuple[list[float], int]:
    """The expression vector of `preset` for a head with expression `names`, and how many keys matched."""
    values = [0.0] * len(names)
    if not named:
        return values, 0
    index = {normalize(n): i for i, n in enumerate(names)}
    matched = 0
    for key, value in preset.weights.items():
        i = index.get(normalize(key))
        if i is not None:
            values[i] = value
            matched += 1
    return values, matched


def preset_applies(preset: ExpressionPreset, names: tuple[str, ...], named: bool) -> bool:
    """True when the preset changes something on this head (or is the neutral reset)."""
    if not preset.weights:
        return True
    return preset.jaw_open != 0.0 or preset_values(preset, names, named)[1] > 0
