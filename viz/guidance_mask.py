"""The guidance mask: which part of the target picture the sampler should match (1 = counts, 0 = ignored).

Coordinates are fractions of the picture, x to the right and y down, (0, 0) = top-left corner. The painted
mask is a float array of MASK_RES x MASK_RES; a rectangle becomes such an array when it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MASK_RES = 128
MASK_MODES = ("whole", "rectangle", "painted")
MASK_LABELS = {"whole": "Whole picture", "rectangle": "Rectangle", "painted": "Painted"}


def _empty() -> np.ndarray:
    return np.zeros((MASK_RES, MASK_RES), np.float32)


@dataclass
class GuidanceMask:
    """Mode, rectangle (x0, y0, x1, y1) and painted array; `version` grows with every change."""

    mode: str = "whole"
    rect: tuple[float, float, float, float] = (0.25, 0.25, 0.75, 0.75)
    painted: np.ndarray = field(default_factory=_empty)
    version: int = 0

    def set_mode(self, mode: str) -> None:
        if mode not in MASK_MODES:
            raise ValueError(f"mask mode {mode!r}: expected one of {', '.join(MASK_MODES)}")
        if mode != self.mode:
            self.mode = mode
            self.version += 1

    def set_rect(self, corner_a: tuple[float, float], corner_b: tuple[float, float]) -> None:
        """The rectangle spanned by two corners (any order), clipped to the picture."""
        (ax, ay), (bx, by) = corner_a, corner_b
        x0, x1 = sorted((_clip(ax), _clip(bx)))
        y0, y1 = sorted((_clip(ay), _clip(by)))
        self.rect = (x0, y0, x1, y1)
        self.version += 1

    def paint(self, start: tuple[float, float], end: tuple[float, float], radius: float, erase: bool = False) -> None:
        """Stamp discs of `radius` (fraction of the picture side) along the segment start -> end."""
        centres = (np.arange(MASK_RES, dtype=np.float32) + 0.5) / MASK_RES
        length = float(np.hypot(end[0] - start[0], end[1] - start[1]))
        steps = max(1, int(np.ceil(length / max(radius * 0.5, 1e-3))))
        disc = np.zeros((MASK_RES, MASK_RES), bool)
        for t in np.linspace(0.0, 1.0, steps + 1):
            x = start[0] + (end[0] - start[0]) * t
            y = start[1] + (end[1] - start[1]) * t
            disc |= (centres[None, :] - x) ** 2 + (centres[:, None] - y) ** 2 <= radius ** 2
        self.painted[disc] = 0.0 if erase else 1.0
        self.version += 1

    def fill(self, value: float) -> None:
        self.painted[:] = float(value)
        self.version += 1

    def array(self) -> np.ndarray | None:
        """(MASK_RES, MASK_RES) float32 in [0, 1], or None for the whole picture."""
        if self.mode == "whole":
            return None
        if self.mode == "painted":
            return self.painted.copy()
        x0, y0, x1, y1 = self.rect
        centres = (np.arange(MASK_RES, dtype=np.float32) + 0.5) / MASK_RES
        inside_x = (centres >= x0) & (centres <= x1)
        inside_y = (centres >= y0) & (centres <= y1)
        return (inside_y[:, None] & inside_x[None, :]).astype(np.float32)

    def is_empty(self) -> bool:
        """True when the mask leaves nothing to match (guidance would have no pixels)."""
        mask = self.array()
        return mask is not None and float(mask.sum()) < 1.0


def _clip(value: float) -> float:
    return min(1.0, max(0.0, float(value)))
