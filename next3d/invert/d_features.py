"""A feature loss from a trained discriminator: activations of its resolution blocks on render vs target.

No pretrained perceptual network can be fetched, but training snapshots hold the D that judged this generator;
its block activations respond to the structures it learned to tell apart. Pixels outside the mask are replaced
by the (detached) render on both sides, so they neither influence the loss nor receive gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from next3d.errors import BadInputError


class DiscriminatorFeatures(nn.Module):
    """Wraps a frozen `DualDiscriminator`; `distance(render, target, mask)` -> (B,) mean normalized feature MSE."""

    def __init__(self, D: nn.Module, blocks: int = 3):
        super().__init__()
        self.D = D.eval().requires_grad_(False)
        self.resolutions = list(D.block_resolutions)[:blocks]  # the highest-resolution blocks: local detail

    @property
    def description(self) -> str:
        return f"discriminator features (blocks {', '.join(f'b{r}' for r in self.resolutions)})"

    def features(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Activations of the first blocks, each unit-normalized along channels."""
        size = self.D.img_resolution
        image = _resize(image, size)
        raw = _resize(_resize(image, max(size // 4, 8)), size)  # a stand-in for the raw rendering channel
        extra = self.D.img_channels - 6  # condition-image channels (a mouth mask): the same constant on both sides
        cond = [image.new_full((image.shape[0], extra, size, size), -1.0)] if extra else []
        x, img = None, torch.cat([image, raw, *cond], dim=1)
        out = []
        for r in self.resolutions:
            x, img = getattr(self.D, f"b{r}")(x, img, force_fp32=True)
            out.append(F.normalize(x.float(), dim=1))
        return out

    def distance(self, render: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.expand(render.shape[0], 1, *render.shape[-2:])
        outside = render.detach() * (1.0 - mask)  # both sides see the render there: no signal, no gradient
        ours, theirs = self.features(render * mask + outside), self.features(target * mask + outside)
        terms = [(a - b).square().sum(1).mean((1, 2)) for a, b in zip(ours, theirs)]
        return torch.stack(terms).mean(0)


def load_discriminator_features(checkpoint, device: torch.device) -> DiscriminatorFeatures | None:
    """The D of a training snapshot (a `Checkpoint` with 'D' weights and 'discriminator_config'), else None."""
    from next3d.io.checkpoint import load_state_strict
    from next3d.networks.discriminator import DiscriminatorConfig, DualDiscriminator

    if "D" not in checkpoint.tensors:
        return None
    config = checkpoint.meta.get("discriminator_config")
    if not isinstance(config, dict):
        raise BadInputError(f"{checkpoint.path}: has 'D' weights but no discriminator_config to rebuild it")
    try:
        D = DualDiscriminator(DiscriminatorConfig(**config))
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{checkpoint.path}: malformed discriminator_config ({exc})") from None
    load_state_strict(D, checkpoint.module_state("D"), f"{checkpoint.path} (D)")
    return DiscriminatorFeatures(D.to(device))


def _resize(image: torch.Tensor, size: int) -> torch.Tensor:
    if image.shape[-1] == size and image.shape[-2] == size:
        return image
    return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
