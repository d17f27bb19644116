"""The reconstruction objective: weighted sum of multi-scale pixel L1, image-gradient L1 and (when a trained
discriminator is available) discriminator feature distance, all inside the mask."""

from __future__ import annotations

import torch

from next3d.invert.d_features import DiscriminatorFeatures
from next3d.invert.losses import gradient_loss, pixel_loss
from next3d.invert.settings import InversionSettings


class ReconstructionLoss:
    """`loss(render, target, mask)` -> (total (B,), {part name: (B,) detached})."""

    def __init__(self, settings: InversionSettings, features: DiscriminatorFeatures | None = None):
        self.pixel_weight = settings.pixel_weight
        self.gradient_weight = settings.gradient_weight
        self.feature_weight = settings.feature_weight if features is not None else 0.0
        self.levels = settings.pyramid_levels
        self.features = features

    @property
    def description(self) -> str:
        parts = [f"multi-scale pixel L1 x{self.pixel_weight:g} ({self.levels} scales)",
                 f"image-gradient L1 x{self.gradient_weight:g}"]
        if self.features is not None and self.feature_weight > 0:
            parts.append(f"{self.features.description} x{self.feature_weight:g}")
        else:
            parts.append("no feature loss (the checkpoint holds no discriminator)")
        return "; ".join(parts)

    def __call__(self, render: torch.Tensor, target: torch.Tensor, mask: torch.Tensor):
        parts = {}
        total = render.new_zeros(render.shape[0])
        if self.pixel_weight > 0:
            parts["pixel"] = pixel_loss(render, target, mask, self.levels)
            total = total + self.pixel_weight * parts["pixel"]
        if self.gradient_weight > 0:
            parts["gradient"] = gradient_loss(render, target, mask, self.levels)
            total = total + self.gradient_weight * parts["gradient"]
        if self.feature_weight > 0:
            parts["features"] = self.features.distance(render, target, mask)
            total = total + self.feature_weight * parts["features"]
        return total, {k: v.detach() for k, v in parts.items()}
