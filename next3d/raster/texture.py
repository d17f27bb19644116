"""Sampling a texture at interpolated UVs (bilinear, differentiable with respect to the texture)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from next3d.errors import BadInputError
from next3d.raster.inputs import describe


def sample_texture(texture: torch.Tensor, uv: torch.Tensor, mask: torch.Tensor | None, *,
                   padding_mode: str = "border") -> torch.Tensor:
    """Bilinear texture (Bt, C, Ht, Wt) lookup at uv (B, H, W, 2) -> (B, C, H, W), zero where mask is False.

    UVs follow the OBJ convention: u right, v up (v = 1 is texture row 0); grid_sample with
    align_corners=False. With Bt < B, views are folded batch-major (uv b reads texture b // (B // Bt)),
    without copying the texture. Gradients flow to the texture (and to uv).
    """
    if not isinstance(texture, torch.Tensor) or texture.ndim != 4 or not texture.dtype.is_floating_point:
        raise BadInputError("sample_texture: texture must be a float (B, C, H, W) tensor, got "
                            f"{describe(texture)}")
    if not isinstance(uv, torch.Tensor) or uv.ndim != 4 or uv.shape[-1] != 2 or not uv.dtype.is_floating_point:
        raise BadInputError(f"sample_texture: uv must be a float (B, H, W, 2) tensor, got "
                            f"{describe(uv)}")
    batch, height, width = uv.shape[:3]
    tex_batch, channels = texture.shape[:2]
    if tex_batch == 0 or batch % tex_batch:
        raise BadInputError(f"sample_texture: texture batch {tex_batch} must divide the uv batch {batch}")
    if uv.device != texture.device:
        raise BadInputError(f"sample_texture: uv is on {uv.device} but the texture is on {texture.device}")
    if mask is not None and (mask.shape != (batch, height, width) or mask.device != uv.device):
        raise BadInputError(f"sample_texture: mask must be ({batch}, {height}, {width}) on {uv.device}, got "
                            f"{tuple(mask.shape)} on {mask.device}")
    grid = torch.stack([uv[..., 0] * 2.0 - 1.0, 1.0 - uv[..., 1] * 2.0], dim=-1).to(texture.dtype)
    views = batch // tex_batch
    grid = grid.reshape(tex_batch, views * height, width, 2)
    out = F.grid_sample(texture, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)
    out = out.reshape(tex_batch, channels, views, height, width).transpose(1, 2).reshape(batch, channels, height,
                                                                                            width)
    return out if mask is None else out * mask[:, None].to(out.dtype)
