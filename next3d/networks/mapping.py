"""Mapping network z (+ camera label c) -> w rows, with the tracked w average used for truncation."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from next3d.errors import BadInputError
from next3d.networks.fully_connected import FullyConnectedLayer


@dataclass(frozen=True)
class MappingConfig:
    """Sizes of a `MappingNetwork` (field names are the official init kwargs).

    num_ws=None returns one w per sample (no broadcast); w_avg_beta=None disables w-average tracking.
    """

    z_dim: int = 512
    c_dim: int = 25
    w_dim: int = 512
    num_ws: int | None = 28
    num_layers: int = 2
    embed_features: int | None = None
    layer_features: int | None = None
    activation: str = "lrelu"
    lr_multiplier: float = 0.01
    w_avg_beta: float | None = 0.998


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale x so its mean square along `dim` is 1."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """cat(norm(z), norm(embed(c))) -> `num_layers` lrelu FC layers (lr x0.01) -> w, broadcast to num_ws rows.

    Parameters: `embed` (if c_dim > 0), `fc0`..`fc{n-1}`; buffer `w_avg` (w_dim,) when tracking.
    """

    def __init__(self, config: MappingConfig) -> None:
        super().__init__()
        self.config = config
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = config.z_dim, config.c_dim, config.w_dim, config.num_ws
        self.num_layers = config.num_layers
        self.w_avg_beta = config.w_avg_beta
        embed_features = config.w_dim if config.embed_features is None else config.embed_features
        if config.c_dim == 0:
            embed_features = 0
        layer_features = config.w_dim if config.layer_features is None else config.layer_features
        features = [config.z_dim + embed_features] + [layer_features] * (config.num_layers - 1) + [config.w_dim]
        if config.c_dim > 0:
            self.embed = FullyConnectedLayer(config.c_dim, embed_features)
        for idx in range(config.num_layers):
            layer = FullyConnectedLayer(
                features[idx], features[idx + 1], activation=config.activation, lr_multiplier=config.lr_multiplier
            )
            self.add_module(f"fc{idx}", layer)
        if config.num_ws is not None and config.w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(config.w_dim))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """Map z (B, z_dim) and c (B, c_dim) to ws (B, num_ws, w_dim) (or (B, w_dim) when num_ws is None).

        Truncation pulls rows toward `w_avg`: w_avg + psi * (w - w_avg), on rows [0, cutoff) only when a
        cutoff is given. `update_emas` moves `w_avg` toward this batch's mean (before truncation).
        """
        parts = []
        if self.z_dim > 0:
            if z is None or z.ndim != 2 or z.shape[1] != self.z_dim:
                raise BadInputError(f"mapping: z must be (B, {self.z_dim}), got {None if z is None else tuple(z.shape)}")
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise BadInputError(f"mapping: c must be (B, {self.c_dim}), got {None if c is None else tuple(c.shape)}")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)

        if update_emas and self.w_avg_beta is not None:
            self.w_avg.copy_(torch.lerp(x.detach().mean(dim=0), self.w_avg, self.w_avg_beta))

        if self.num_ws is not None:
            x = x.unsqueeze(1).expand(-1, self.num_ws, -1)
        if truncation_psi != 1:
            if self.w_avg_beta is None:
                raise BadInputError("mapping: truncation needs a tracked w_avg (w_avg_beta is None)")
            if self.num_ws is None or truncation_cutoff is None:
                x = torch.lerp(self.w_avg, x, truncation_psi)
            else:
                head = torch.lerp(self.w_avg, x[:, :truncation_cutoff], truncation_psi)
                x = torch.cat([head, x[:, truncation_cutoff:]], dim=1)
        return x.contiguous() if self.num_ws is not None else x

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}"
