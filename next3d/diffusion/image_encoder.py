"""The condition encoder: a small conv net, trained from scratch, from a masked RGB image to tokens.

Input: image (B, 3, H, W) in [-1, 1] and mask (B, 1, H, W) in [0, 1] (1 = known pixel); the net sees
(image * mask, mask) resized to `resolution`. Output: token_grid**2 tokens of `width` numbers. A learned
"null" token set stands for "no condition" (condition dropout in training, the unconditional branch of CFG).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ImageEncoderConfig:
    """Input resolution, conv channels, token grid side (resolution / token_grid must be a power of 2), token width."""

    resolution: int = 64
    channels: int = 64
    token_grid: int = 16
    width: int = 256

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> ImageEncoderConfig:
        return ImageEncoderConfig(**d)

    @property
    def num_tokens(self) -> int:
        return self.token_grid ** 2


class ResidualConv(nn.Module):
    """GroupNorm-SiLU-conv twice with a skip; `down` halves the resolution afterwards."""

    def __init__(self, channels: int, down: bool):
        super().__init__()
        groups = math.gcd(channels, 8)
        self.body = nn.Sequential(
            nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
            nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1))
        self.down = nn.Conv2d(channels, channels, 3, stride=2, padding=1) if down else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(x + self.body(x))


class MaskedImageEncoder(nn.Module):
    """(image, mask) -> tokens (B, token_grid**2, width)."""

    def __init__(self, cfg: ImageEncoderConfig):
        super().__init__()
        levels = math.log2(cfg.resolution / cfg.token_grid)
        if levels < 0 or levels != int(levels):
            raise ValueError(f"encoder resolution {cfg.resolution} / token grid {cfg.token_grid} must be a power of 2")
        self.cfg = cfg
        self.stem = nn.Conv2d(4, cfg.channels, 3, padding=1)
        self.stages = nn.Sequential(*(ResidualConv(cfg.channels, down=True) for _ in range(int(levels))),
                                    ResidualConv(cfg.channels, down=False))
        self.to_tokens = nn.Conv2d(cfg.channels, cfg.width, 1)
        self.position = nn.Parameter(torch.randn(1, cfg.num_tokens, cfg.width) * 0.02)
        self.norm = nn.LayerNorm(cfg.width)
        self.null_tokens = nn.Parameter(torch.randn(1, cfg.num_tokens, cfg.width) * 0.02)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        size = (self.cfg.resolution, self.cfg.resolution)
        image = F.interpolate(image.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
        mask = F.interpolate(mask.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
        h = self.stages(self.stem(torch.cat([image * mask, mask], dim=1)))
        tokens = self.to_tokens(h).flatten(2).transpose(1, 2)
        return self.norm(tokens + self.position)

    def null(self, batch: int) -> torch.Tensor:
        """The "no condition" tokens for a batch."""
        return self.null_tokens.expand(batch, -1, -1)
