"""Equalized-learning-rate convolution with optional FIR up/downsampling (StyleGAN2 `Conv2dLayer`)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from next3d.networks.ops.bias_act import ACTIVATIONS, bias_act
from next3d.networks.ops.conv2d_resample import conv2d_resample
from next3d.networks.ops.upfirdn2d import setup_filter

FIR_TAPS = (1, 3, 3, 1)


class Conv2dLayer(nn.Module):
    """act(conv(x, W / sqrt(in * k * k)) + b) * act_gain * gain, clamped to +-conv_clamp * gain.

    Parameters: `weight` (out, in, k, k), `bias` (out,); buffer `resample_filter` (4, 4).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: Sequence[float] = FIR_TAPS,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.activation = activation
        self.up = up
        self.down = down
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.act_gain = ACTIVATIONS[activation].default_gain
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        # Correlation for plain/down convs; the transposed path of upsampling convs uses true convolution.
        x = conv2d_resample(x, w, self.resample_filter, up=self.up, down=self.down, padding=self.padding, flip_weight=self.up == 1)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, activation={self.activation}, "
            f"up={self.up}, down={self.down}"
        )
