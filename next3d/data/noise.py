"""Deterministic 3-D value noise from integer hashing: the same numbers on every run, no random state."""

from __future__ import annotations

import torch

_PRIMES = (73856093, 19349663, 83492791)  # int32 products wrap around (two's complement), as intended
_SALT_PRIME = 1640531513
_MIX = 1274126177
_MASK = (1 << 23) - 1


def _lattice_value(cell: torch.Tensor, salt: torch.Tensor) -> torch.Tensor:
    """A value in [0, 1) per integer lattice point (..., 3) int32 and salt (int32, broadcastable)."""
    h = (cell[..., 0] * _PRIMES[0]) ^ (cell[..., 1] * _PRIMES[1]) ^ (cell[..., 2] * _PRIMES[2]) ^ (salt * _SALT_PRIME)
    h = (h ^ (h >> 13)) * _MIX
    h = h ^ (h >> 16)
    return (h & _MASK).to(torch.float32) * (1.0 / (_MASK + 1))


def value_noise(points: torch.Tensor, salt: torch.Tensor) -> torch.Tensor:
    """Smooth noise in [0, 1) at points (..., 3) (lattice spacing 1), varied per `salt` (int, broadcastable)."""
    base = torch.floor(points)
    frac = points - base
    fade = frac * frac * (3.0 - 2.0 * frac)  # smoothstep: continuous first derivative
    cell = base.to(torch.int32)
    salt = salt.to(torch.int32)
    x0, y0, z0 = cell.unbind(-1)
    fx, fy, fz = fade.unbind(-1)
    out = torch.zeros_like(fx)
    for dx in (0, 1):
        wx = fx if dx else 1.0 - fx
        for dy in (0, 1):
            wy = fy if dy else 1.0 - fy
            for dz in (0, 1):
                wz = fz if dz else 1.0 - fz
                corner = torch.stack([x0 + dx, y0 + dy, z0 + dz], -1)
                out = out + (wx * wy * wz) * _lattice_value(corner, salt)
    return out


def fractal_noise(points: torch.Tensor, salt: torch.Tensor, octaves: int = 2) -> torch.Tensor:
    """Sum of `octaves` value-noise layers (frequency x2, amplitude /2 each), rescaled to [0, 1)."""
    total, amplitude, norm = torch.zeros_like(points[..., 0]), 1.0, 0.0
    for octave in range(octaves):
        total = total + amplitude * value_noise(points * (2.0 ** octave), salt + 7919 * octave)
        norm += amplitude
        amplitude *= 0.5
    return total / norm
