"""The mouth region of the front plane: where the lip crop is taken, cropping it, pasting the mouth net back.

Boxes live in the front plane's NDC (x along columns, y along rows, [-1, 1] across the plane); crops and
pastes are `grid_sample`s with per-sample affine grids, so the whole batch stays on the device with no sync.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class MouthBoxes:
    """Square crop boxes, one per sample."""

    centre: torch.Tensor  # (B, 2) NDC
    half_side: torch.Tensor  # (B,) NDC


def mouth_boxes(landmarks_ndc: torch.Tensor, lip_outer: torch.Tensor, mouth_corners: torch.Tensor,
                scale: float) -> MouthBoxes:
    """Box centred between the mouth corners, side = scale x the larger extent of the outer lip contour."""
    lips = landmarks_ndc[:, lip_outer]  # (B, Lo, 2)
    extent = (lips.amax(dim=1) - lips.amin(dim=1)).amax(dim=1)  # (B,)
    centre = landmarks_ndc[:, mouth_corners].mean(dim=1)
    return MouthBoxes(centre=centre, half_side=(scale * 0.5) * extent.clamp_min(1e-3))


def crop_mouth(front: torch.Tensor, boxes: MouthBoxes, size: int) -> torch.Tensor:
    """Resample the box of the front plane (B, C, P, P) to (B, C, size, size), bilinear."""
    batch = front.shape[0]
    theta = torch.zeros(batch, 2, 3, dtype=front.dtype, device=front.device)
    theta[:, 0, 0] = theta[:, 1, 1] = boxes.half_side
    theta[:, :, 2] = boxes.centre
    grid = F.affine_grid(theta, [batch, front.shape[1], size, size], align_corners=False)
    return F.grid_sample(front, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def paste_mouth(front: torch.Tensor, mouth: torch.Tensor, boxes: MouthBoxes, paste_size: int | None = None
                ) -> torch.Tensor:
    """Replace the box of the front plane (B, C, P, P) with the mouth net's output (B, C, R, R) covering it.

    The output is first area-averaged to `paste_size` (default: the crop's own resolution, about the box's
    size in plane pixels) so that shrinking it into the box does not alias.
    """
    batch, channels, res, _ = front.shape
    if paste_size and mouth.shape[-1] > paste_size:
        mouth = F.interpolate(mouth, size=(paste_size, paste_size), mode="area")
    inv = 1.0 / boxes.half_side
    theta = torch.zeros(batch, 2, 3, dtype=front.dtype, device=front.device)
    theta[:, 0, 0] = theta[:, 1, 1] = inv
    theta[:, :, 2] = -boxes.centre * inv[:, None]
    grid = F.affine_grid(theta, [batch, channels, res, res], align_corners=False)  # box-local coords per pixel
    pasted = F.grid_sample(mouth.to(front.dtype), grid, mode="bilinear", padding_mode="border", align_corners=False)
    inside = (grid.abs() < 1.0).all(dim=-1)[:, None]  # (B, 1, P, P)
    return torch.where(inside, pasted, front)
