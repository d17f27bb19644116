"""The latent being fitted, in W (one row broadcast to all rows) or W+ (every row free), stored relative to
w_avg in units of the mapping's spread, with the regularizers that keep a 28-row W+ from drifting apart."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LatentStatistics:
    """Centre and spread of the mapping's output: w_avg (w_dim,) and the per-element RMS deviation (scalar)."""

    w_avg: torch.Tensor
    w_std: float
    tracked: bool  # False: w_avg was estimated here because the checkpoint's running average was never updated


@torch.no_grad()
def latent_statistics(G, c_cond: torch.Tensor, samples: int, seed: int) -> LatentStatistics:
    """Map `samples` random z (conditioned on `c_cond` (1, 25)); w_avg from G when tracked, else their mean."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, G.z_dim, generator=generator).to(c_cond.device)
    w = G.mapping(z, c_cond.expand(samples, -1))[:, 0]
    tracked_avg = G.backbone.mapping.w_avg.detach().float()
    tracked = bool(tracked_avg.abs().max() > 0)
    w_avg = tracked_avg if tracked else w.mean(0)
    w_std = float((w - w_avg).square().mean().sqrt().clamp_min(1e-6))
    return LatentStatistics(w_avg.clone(), w_std, tracked)


class LatentParams(nn.Module):
    """ws = w_avg + w_std * offset; `offset` is (1, 1, w_dim) in W and (1, num_ws, w_dim) in W+."""

    def __init__(self, start_ws: torch.Tensor, stats: LatentStatistics, space: str):
        super().__init__()
        self.num_ws = start_ws.shape[1]
        self.space = space
        self.register_buffer("w_avg", stats.w_avg.reshape(1, 1, -1).to(start_ws))
        self.w_std = stats.w_std
        offset = (start_ws.detach() - self.w_avg) / self.w_std
        if space == "w":
            offset = offset.mean(1, keepdim=True)
        self.offset = nn.Parameter(offset.clone())

    def ws(self) -> torch.Tensor:
        """(1, num_ws, w_dim)."""
        return (self.w_avg + self.w_std * self.offset).expand(1, self.num_ws, -1)

    def regularization(self, avg_weight: float, rows_weight: float) -> torch.Tensor:
        """avg_weight * mean offset^2 + rows_weight * mean squared deviation of rows from their mean (W+ only)."""
        reg = avg_weight * self.offset.square().mean()
        if self.space == "w+" and rows_weight > 0:
            reg = reg + rows_weight * (self.offset - self.offset.mean(1, keepdim=True)).square().mean()
        return reg
