"""Reconstruction losses that use only the pixels inside a mask: multi-scale pixel, image-gradient, PSNR.

Images are (B, 3, H, W) in [-1, 1]; masks are (B or 1, 1, H, W) in [0, 1] (1 = the pixel counts). A pixel whose
mask is 0 is multiplied by exactly 0 before anything else, so its value cannot change any loss or gradient.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def photo_consistent(render: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The render where it can differ from the photo: a saturated target pixel (+-1) only says 'at least this
    bright' (or dark), so a render beyond it counts as equal."""
    high, low = target >= 1.0, target <= -1.0
    return torch.where(high, render.clamp(max=1.0), torch.where(low, render.clamp(min=-1.0), render))


def masked_pyramid(image: torch.Tensor, mask: torch.Tensor, levels: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """[(mask-weighted mean image, mask coverage)] at full, 1/2, 1/4 ... size (2x2 average pooling)."""
    weighted = image * mask
    out = [(weighted, mask)]
    for _ in range(levels - 1):
        if min(weighted.shape[-2:]) < 2:
            break
        weighted, mask = F.avg_pool2d(weighted, 2), F.avg_pool2d(mask, 2)
        out.append((weighted, mask))
    return [(w / m.clamp_min(1e-8), m) for w, m in out]


def pixel_loss(render: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Mean over scales of the coverage-weighted L1 distance of masked averages, per sample (B,)."""
    mask = mask.expand(render.shape[0], 1, *render.shape[-2:])
    render = photo_consistent(render, target)
    terms = []
    for (r, m), (t, _) in zip(masked_pyramid(render, mask, levels), masked_pyramid(target, mask, levels)):
        terms.append(((r - t).abs().mean(1, keepdim=True) * m).sum((1, 2, 3)) / m.sum((1, 2, 3)).clamp_min(1e-8))
    return torch.stack(terms).mean(0)


def gradient_loss(render: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """L1 distance of horizontal and vertical finite differences (edges) where both pixels are masked, per
    scale of the masked pyramid, averaged (B,)."""
    mask = mask.expand(render.shape[0], 1, *render.shape[-2:])
    render = photo_consistent(render, target)
    terms = []
    for (r, m), (t, _) in zip(masked_pyramid(render, mask, levels), masked_pyramid(target, mask, levels)):
        for dim in (2, 3):
            n = r.shape[dim]
            if n < 2:
                continue
            dr = r.narrow(dim, 1, n - 1) - r.narrow(dim, 0, n - 1)
            dt = t.narrow(dim, 1, n - 1) - t.narrow(dim, 0, n - 1)
            both = m.narrow(dim, 1, n - 1) * m.narrow(dim, 0, n - 1)
            terms.append(((dr - dt).abs().mean(1, keepdim=True) * both).sum((1, 2, 3))
                         / both.sum((1, 2, 3)).clamp_min(1e-8))
    return torch.stack(terms).mean(0)


def psnr(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB (B,) of images as saved (clamped to [-1, 1], peak-to-peak 2), inside
    the mask."""
    image, target = image.detach().clamp(-1, 1), target.detach().clamp(-1, 1)
    mask = torch.ones_like(image[:, :1]) if mask is None else mask.expand(image.shape[0], 1, *image.shape[-2:])
    err = ((image - target) ** 2 * mask).sum((1, 2, 3)) / (mask.sum((1, 2, 3)) * image.shape[1]).clamp_min(1e-8)
    return 10.0 * torch.log10(4.0 / err.clamp_min(1e-10))


def psnr_value(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """`psnr` of the first sample as a float (dB); capped at 100 for identical images."""
    value = float(psnr(image[:1], target[:1], None if mask is None else mask[:1])[0])
    return min(value, 100.0) if math.isfinite(value) else 100.0
