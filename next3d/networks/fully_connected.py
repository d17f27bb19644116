"""Equalized-learning-rate fully connected layer (StyleGAN2 `FullyConnectedLayer`)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from next3d.networks.ops.bias_act import bias_act


class FullyConnectedLayer(nn.Module):
    """y = act(x @ (W * lr_multiplier / sqrt(in))^T + b * lr_multiplier); W is stored divided by lr_multiplier.

    Parameters: `weight` (out, in), `bias` (out,).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = None
        if self.bias is not None:
            b = self.bias.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear":
            return F.linear(x, w, b)
        return bias_act(F.linear(x, w), b, dim=x.ndim - 1, act=self.activation)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, activation={self.activation}"
