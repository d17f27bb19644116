"""Random "known region" masks for training the condition encoder: the whole image or a random box.

A user may condition on part of an image (the rest unknown); training on boxes teaches the encoder that.
"""

from __future__ import annotations

import torch


def random_box_masks(batch: int, size: int, generator: torch.Generator, full_probability: float = 0.5,
                     min_side: float = 0.3) -> torch.Tensor:
    """Masks (batch, 1, size, size) in {0, 1}: all ones with `full_probability`, else one axis-aligned box
    whose sides are uniform in [min_side, 1] of the image side, at a uniform position."""
    u = torch.rand(batch, 5, generator=generator)
    side = (min_side + (1 - min_side) * u[:, 1:3]) * size                    # (B, 2): height, width in pixels
    start = (size - side) * u[:, 3:5]
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    rows = (coords[None] >= start[:, :1]) & (coords[None] < start[:, :1] + side[:, :1])
    cols = (coords[None] >= start[:, 1:]) & (coords[None] < start[:, 1:] + side[:, 1:])
    box = (rows[:, :, None] & cols[:, None, :]).float()
    full = (u[:, 0] < full_probability).float()[:, None, None]
    return torch.maximum(box, full)[:, None]
