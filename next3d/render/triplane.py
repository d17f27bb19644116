"""Sampling features from tri-planes at world points."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Which world axes (u, v) each plane is indexed by; u runs along columns, v along rows (conventions.md).
NEXT3D_PLANE_AXES = ((0, 1), (0, 2), (2, 1))  # (x, y), (x, z), (z, y): ours and Next3D's renderer
EG3D_PLANE_AXES = ((0, 1), (0, 2), (2, 0))  # (x, y), (x, z), (z, x): EG3D's renderer


def plane_coordinates(points: torch.Tensor, box_warp: float, axes=NEXT3D_PLANE_AXES) -> torch.Tensor:
    """grid_sample coordinates of world points (B, N, 3) on each plane: (B, 3, N, 2) in [-1, 1] inside the box."""
    scaled = points * (2.0 / box_warp)
    # Basic indexing per axis: a Python-list index would copy an index tensor to the device (breaks CUDA graphs).
    return torch.stack([torch.stack([scaled[..., u], scaled[..., v]], dim=-1) for u, v in axes], dim=1)


def sample_planes(planes: torch.Tensor, points: torch.Tensor, box_warp: float = 1.0,
                  axes=NEXT3D_PLANE_AXES) -> torch.Tensor:
    """Bilinear features of planes (B, 3, C, H, W) at points (B, N, 3): (B, 3, N, C); zero outside the box."""
    batch, n_planes, channels, height, width = planes.shape
    grid = plane_coordinates(points, box_warp, axes).to(planes.dtype)  # (B, 3, N, 2)
    flat = planes.reshape(batch * n_planes, channels, height, width)
    sampled = F.grid_sample(flat, grid.reshape(batch * n_planes, 1, -1, 2), mode="bilinear",
                            padding_mode="zeros", align_corners=False)  # (B*3, C, 1, N)
    return sampled.reshape(batch, n_planes, channels, -1).permute(0, 1, 3, 2)
