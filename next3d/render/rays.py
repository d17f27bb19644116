"""Camera rays through pixel centres, for EG3D cameras (OpenCV axes, normalized intrinsics)."""

from __future__ import annotations

import torch


def pixel_centres(height: int, width: int, device=None) -> torch.Tensor:
    """Normalized image coordinates of pixel centres, (H*W, 2) as (u, v) in (0, 1), row-major."""
    v = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    u = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    return torch.stack([uu.reshape(-1), vv.reshape(-1)], dim=-1)


def camera_rays(cam2world: torch.Tensor, intrinsics: torch.Tensor, resolution: int | tuple[int, int]
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """World-space ray origins and unit directions, each (B, H*W, 3), rays in row-major pixel order."""
    height, width = (resolution, resolution) if isinstance(resolution, int) else resolution
    uv = pixel_centres(height, width, cam2world.device)  # (HW, 2)
    fx, fy = intrinsics[:, 0, 0, None], intrinsics[:, 1, 1, None]
    cx, cy, skew = intrinsics[:, 0, 2, None], intrinsics[:, 1, 2, None], intrinsics[:, 0, 1, None]
    y_cam = (uv[None, :, 1] - cy) / fy
    x_cam = (uv[None, :, 0] - cx - skew * y_cam) / fx
    dirs_cam = torch.stack([x_cam, y_cam, torch.ones_like(x_cam)], dim=-1)  # (B, HW, 3), z forward
    dirs = torch.nn.functional.normalize(dirs_cam @ cam2world[:, :3, :3].transpose(1, 2), dim=-1)
    origins = cam2world[:, None, :3, 3].expand_as(dirs)
    return origins, dirs
