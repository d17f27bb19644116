"""Image-space guidance: how far a rendered latent is from a target image (masked smooth-L1 at a working size).

The sampler (pipeline.py) differentiates this loss through the renderer (the generator) and adds the scaled
gradient to each update.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from next3d.errors import BadInputError

GUIDANCE_TARGETS = ("x_t", "x0")


@dataclass(frozen=True)
class ImageGuidance:
    """Target image (1 or B, 3, H, W) in [-1, 1]; optional mask (1 or B, 1, H, W) in [0, 1] (1 = counts).

    `scale` multiplies the gradient; `resolution` is the working size of the loss; `wrt` is what the gradient
    is taken with respect to: "x_t" (through the denoiser, default) or "x0" (the clean estimate, cheaper).
    """

    target: torch.Tensor
    mask: torch.Tensor | None = None
    scale: float = 1.0
    resolution: int = 256
    wrt: str = "x_t"

    def validate(self) -> None:
        if self.target.ndim != 4 or self.target.shape[1] != 3:
            raise BadInputError(f"guidance target: expected an image batch (B, 3, H, W), "
                                f"got {tuple(self.target.shape)}")
        if self.mask is not None and (self.mask.ndim != 4 or self.mask.shape[1] != 1):
            raise BadInputError(f"guidance mask: expected (B, 1, H, W), got {tuple(self.mask.shape)}")
        if self.wrt not in GUIDANCE_TARGETS:
            raise BadInputError(f"guidance wrt '{self.wrt}': expected one of {', '.join(GUIDANCE_TARGETS)}")
        if self.resolution < 1:
            raise BadInputError(f"guidance resolution {self.resolution}: must be positive")


def resize_to(images: torch.Tensor, size: int) -> torch.Tensor:
    """Area-preserving resize of (B, C, H, W) to (B, C, size, size)."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def guidance_loss(rendered: torch.Tensor, guidance: ImageGuidance) -> torch.Tensor:
    """Per-sample masked smooth-L1 (B,) between rendered images (B, 3, H, W) and the target, at the working size."""
    size = guidance.resolution
    image = resize_to(rendered, size)
    target = resize_to(guidance.target.to(image), size).expand_as(image)
    per_pixel = F.smooth_l1_loss(image, target, reduction="none").mean(dim=1, keepdim=True)
    if guidance.mask is None:
        return per_pixel.mean(dim=(1, 2, 3))
    mask = resize_to(guidance.mask.to(image), size).expand_as(per_pixel)
    return (per_pixel * mask).sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3)).clamp_min(1e-6)
