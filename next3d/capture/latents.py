"""Latent codes from seeds, and the fractional 2-D seed walk (blending the four neighbouring seeds in w)."""

from __future__ import annotations

import math
import re

import numpy as np

SEED_STEP_Y = 100  # seeds lie on a grid: seed = x + SEED_STEP_Y * y
SEED_MASK = (1 << 32) - 1  # numpy's RandomState accepts 32-bit seeds


def seed_at(x: float, y: float) -> int:
    """The integer seed of grid cell (floor x, floor y)."""
    return (int(math.floor(x)) + int(math.floor(y)) * SEED_STEP_Y) & SEED_MASK


def walk_seeds(x: float, y: float) -> tuple[tuple[int, float], ...]:
    """Seeds and bilinear weights (summing to 1) of the grid cells around the fractional position (x, y).

    An integer position gives one seed with weight 1; the w codes of these seeds are blended with the weights.
    """
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    seeds = []
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        weight = (fx if dx else 1.0 - fx) * (fy if dy else 1.0 - fy)
        if weight > 0:
            seeds.append((((x0 + dx) + (y0 + dy) * SEED_STEP_Y) & SEED_MASK, weight))
    return tuple(seeds)


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """The standard-normal z (z_dim,) float32 of a seed, drawn as EG3D/StyleGAN scripts do."""
    return np.random.RandomState(int(seed) & SEED_MASK).randn(z_dim).astype(np.float32)


def parse_seeds(text: str) -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11]."""
    from next3d.errors import BadInputError

    seeds: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))):
            raise BadInputError(f"--seeds {text!r}: expected non-negative numbers and ranges like 0-3,7")
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) else lo
        seeds.extend(range(lo, hi + 1))
    if any(s > SEED_MASK for s in seeds):
        raise BadInputError(f"--seeds {text!r}: seeds must be at most {SEED_MASK}")
    return seeds
