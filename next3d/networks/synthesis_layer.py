"""Style-modulated layers of a StyleGAN2 synthesis block: the 3x3 `SynthesisLayer` and the 1x1 `ToRGBLayer`.

Both split their work in two so styles can be computed once per latent and cached:
`style(w)` runs the affine layer (w -> per-input-channel scales, the "StyleSpace" vector) and
`forward(x, style, ...)` runs the modulated convolution.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
from torch import nn

from next3d.networks.conv2d_layer import FIR_TAPS
from next3d.networks.fully_connected import FullyConnectedLayer
from next3d.networks.modulated_conv import modulated_conv2d
from next3d.networks.ops.bias_act import ACTIVATIONS, bias_act
from next3d.networks.ops.upfirdn2d import setup_filter

NoiseMode = Literal["random", "const", "none"]
NOISE_MODES = ("random", "const", "none")


class SynthesisLayer(nn.Module):
    """Modulated, demodulated k x k conv (optionally x2 FIR upsampling) + noise + bias + lrelu.

    Parameters: `affine` (w_dim -> in, bias init 1), `weight` (out, in, k, k), `noise_strength` (),
    `bias` (out,); buffers `noise_const` (res, res), `resample_filter` (4, 4).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = FIR_TAPS,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.act_gain = ACTIVATIONS[activation].default_gain
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def style(self, w: torch.Tensor) -> torch.Tensor:
        """Per-input-channel modulation (B, in) from one w row (B, w_dim)."""
        return self.affine(w)

    def forward(
        self,
        x: torch.Tensor,
        style: torch.Tensor,
        noise_mode: NoiseMode = "random",
        fused_modconv: bool = True,
        gain: float = 1.0,
    ) -> torch.Tensor:
        """x (B, in, res/up, res/up) -> (B, out, res, res)."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        in_res = self.resolution // self.up
        if x.shape[1:] != (self.in_channels, in_res, in_res):
            raise ValueError(f"SynthesisLayer expects (B, {self.in_channels}, {in_res}, {in_res}), got {tuple(x.shape)}")
        noise = None
        if self.use_noise and noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(
            x,
            self.weight,
            style,
            noise=noise,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            flip_weight=self.up == 1,
            fused_modconv=fused_modconv,
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, w_dim={self.w_dim}, "
            f"resolution={self.resolution}, up={self.up}, activation={self.activation}"
        )


class ToRGBLayer(nn.Module):
    """Modulated (not demodulated) 1x1 conv to image channels + bias, clamped to +-conv_clamp.

    Parameters: `affine` (w_dim -> in, bias init 1), `weight` (out, in, k, k), `bias` (out,).
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def style(self, w: torch.Tensor) -> torch.Tensor:
        """Per-input-channel modulation (B, in) from one w row (B, w_dim), before the 1/sqrt(fan-in) gain."""
        return self.affine(w)

    def forward(self, x: torch.Tensor, style: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:
        """x (B, in, H, W) -> (B, out, H, W)."""
        x = modulated_conv2d(x, self.weight, style * self.weight_gain, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias, clamp=self.conv_clamp)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}, w_dim={self.w_dim}"
