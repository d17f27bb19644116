"""The training objective: v-prediction at random timesteps, L1 or L2, weighted per sample (schedule.py)."""

from __future__ import annotations

import torch
from torch import nn

from next3d.diffusion.prior import LatentPrior
from next3d.diffusion.schedule import loss_weights, training_scheduler

LOSS_KINDS = ("l1", "l2")


class VPredictionLoss(nn.Module):
    """forward(x0, noise, t, image, mask, drop) -> scalar loss; wraps the prior so DDP sees one module."""

    def __init__(self, prior: LatentPrior, loss: str = "l1", weighting: str = "snr"):
        super().__init__()
        if loss not in LOSS_KINDS:
            raise ValueError(f"loss '{loss}': expected one of {', '.join(LOSS_KINDS)}")
        self.prior = prior
        self.loss = loss
        self.weighting = weighting
        self.scheduler = training_scheduler(prior.cfg.num_train_timesteps)

    def forward(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, image: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, drop: torch.Tensor | None = None) -> torch.Tensor:
        """x0, noise (B, L, D) normalized latents; t (B,) int; image (B, 3, H, W), mask (B, 1, H, W), drop (B,) bool."""
        x_t = self.scheduler.add_noise(x0, noise, t)
        target = self.scheduler.get_velocity(x0, noise, t)
        context = None
        if self.prior.conditional:
            context = self.prior.encode_condition(image, mask)
            context = torch.where(drop[:, None, None], self.prior.null_condition(len(x0)), context)
        error = self.prior.predict_v(x_t, t, context) - target
        per_sample = (error.abs() if self.loss == "l1" else error.square()).mean(dim=(1, 2))
        return (loss_weights(self.scheduler.alphas_cumprod, t, self.weighting) * per_sample).mean()
