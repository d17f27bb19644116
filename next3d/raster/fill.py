"""Filling polygons on the GPU (the mouth interior bounded by the inner-lip contour), no CPU round trip."""

from __future__ import annotations

import torch

from next3d.errors import BadInputError
from next3d.raster.inputs import describe, parse_resolution


def fill_polygon(polygon: torch.Tensor, resolution) -> torch.Tensor:
    """(B, H, W) bool: pixel centres inside closed polygons (B, P, 2) given in NDC (x, y), even-odd rule.

    Pixel (r, c) has its centre at NDC ((2c + 1)/W - 1, (2r + 1)/H - 1), as in `rasterize`, so a contour
    projected with the front plane view fills the same pixels the rasterizer writes. Pure torch, no sync.
    """
    if not isinstance(polygon, torch.Tensor) or polygon.ndim != 3 or polygon.shape[-1] != 2:
        raise BadInputError(f"fill_polygon: polygon must be a (B, P, 2) tensor, got "
                            f"{describe(polygon)}")
    if polygon.shape[1] < 3 or not polygon.dtype.is_floating_point:
        raise BadInputError(f"fill_polygon: polygon needs >= 3 float points, got {polygon.shape[1]} {polygon.dtype}")
    height, width = parse_resolution(resolution, "fill_polygon")
    device = polygon.device
    start = polygon
    end = torch.roll(polygon, shifts=-1, dims=1)
    ys = (torch.arange(height, device=device, dtype=polygon.dtype) * 2 + 1) / height - 1  # (H,)
    xs = (torch.arange(width, device=device, dtype=polygon.dtype) * 2 + 1) / width - 1  # (W,)
    ay, by = start[..., 1, None], end[..., 1, None]  # (B, P, 1)
    ax, bx = start[..., 0, None], end[..., 0, None]
    straddles = (ay > ys) != (by > ys)  # (B, P, H): the edge crosses the row's horizontal line
    cross_x = ax + (ys - ay) * (bx - ax) / torch.where(straddles, by - ay, torch.ones_like(ay))
    crossings = straddles[..., None] & (xs < cross_x[..., None])  # (B, P, H, W): crossings right of the pixel
    return crossings.sum(dim=1) % 2 == 1
