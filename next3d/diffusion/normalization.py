"""Per-element affine normalization of latents: normalized = (latent - center) / scale.

"minmax" (the seed's choice) maps each element's [min, max] to [-1, 1]; "meanstd" standardizes it.
Elements that never vary get scale 1 so they stay finite (they normalize to 0 for minmax/meanstd alike).
"""

from __future__ import annotations

import torch

from next3d.diffusion.latent_stats import LatentStats
from next3d.errors import BadInputError

NORMALIZATION_MODES = ("minmax", "meanstd")
MIN_SCALE = 1e-6


class LatentNormalizer(torch.nn.Module):
    """Holds `center` and `scale` (the latent's per-sample shape) as buffers, so checkpoints carry them."""

    def __init__(self, center: torch.Tensor, scale: torch.Tensor, mode: str):
        super().__init__()
        if mode not in NORMALIZATION_MODES:
            raise BadInputError(f"normalization '{mode}': expected one of {', '.join(NORMALIZATION_MODES)}")
        self.mode = mode
        self.register_buffer("center", center.to(torch.float32).clone())
        self.register_buffer("scale", scale.to(torch.float32).clone())

    @staticmethod
    def from_stats(stats: LatentStats, mode: str = "minmax") -> LatentNormalizer:
        if mode == "minmax":
            center, half_range = (stats.max + stats.min) / 2, (stats.max - stats.min) / 2
            scale = torch.where(torch.as_tensor(half_range) > MIN_SCALE, torch.as_tensor(half_range), 1.0)
            return LatentNormalizer(torch.as_tensor(center), scale, mode)
        if mode == "meanstd":
            std = torch.as_tensor(stats.std)
            return LatentNormalizer(torch.as_tensor(stats.mean), torch.where(std > MIN_SCALE, std, 1.0), mode)
        raise BadInputError(f"normalization '{mode}': expected one of {', '.join(NORMALIZATION_MODES)}")

    @staticmethod
    def empty(shape: tuple[int, ...], mode: str) -> LatentNormalizer:
        """An identity normalizer of the right shape, to be filled by `load_state_dict`."""
        return LatentNormalizer(torch.zeros(shape), torch.ones(shape), mode)

    def normalize(self, latents: torch.Tensor) -> torch.Tensor:
        return (latents - self.center) / self.scale

    def unnormalize(self, normalized: torch.Tensor) -> torch.Tensor:
        return normalized * self.scale + self.center
