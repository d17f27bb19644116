"""EG3D/Next3D tri-plane decoder: a tiny MLP from averaged plane features to density and colour features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from next3d.networks.fully_connected import FullyConnectedLayer


@dataclass(frozen=True)
class DecoderConfig:
    """Sizes of an `OSGDecoder`; official: 32 -> 64 -> 1 + 32, lr_multiplier = rendering_kwargs['decoder_lr_mul'] (1)."""

    n_features: int = 32
    hidden_dim: int = 64
    output_dim: int = 32
    lr_multiplier: float = 1.0


class DecodedSamples(NamedTuple):
    """Decoder output per sample point."""

    sigma: torch.Tensor  # (B, N, 1) raw density (the renderer applies softplus(sigma - 1))
    features: torch.Tensor  # (B, N, output_dim) in (-0.001, 1.001); the first 3 are RGB


class OSGDecoder(nn.Module):
    """mean over planes -> FC -> softplus -> FC; sigma = out[0], features = sigmoid(out[1:]) * 1.002 - 0.001.

    Sub-modules (official names): `net.0`, `net.2` (FullyConnectedLayer), `net.1` Softplus.
    """

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.config = config
        self.hidden_dim = config.hidden_dim
        self.net = nn.Sequential(
            FullyConnectedLayer(config.n_features, config.hidden_dim, lr_multiplier=config.lr_multiplier),
            nn.Softplus(),
            FullyConnectedLayer(config.hidden_dim, 1 + config.output_dim, lr_multiplier=config.lr_multiplier),
        )

    def forward(self, sampled_features: torch.Tensor) -> DecodedSamples:
        """sampled_features (B, planes, N, C) sampled from the tri-planes -> DecodedSamples."""
        x = sampled_features.mean(dim=1)  # (B, N, C)
        batch, n, c = x.shape
        x = self.net(x.reshape(batch * n, c)).reshape(batch, n, -1)
        features = torch.sigmoid(x[..., 1:]) * (1 + 2 * 0.001) - 0.001  # MipNeRF-style widened sigmoid
        return DecodedSamples(sigma=x[..., :1], features=features)
