"""Building blocks of the StyleGAN2 ResNet discriminator: resolution blocks, minibatch std-dev, epilogue."""

from __future__ import annotations

import math

import torch
from torch import nn

from next3d.networks.conv2d_layer import FIR_TAPS, Conv2dLayer
from next3d.networks.fully_connected import FullyConnectedLayer
from next3d.networks.ops.upfirdn2d import downsample2d, setup_filter
from next3d.networks.precision import compute_dtype
from next3d.networks.synthesis_block import ARCHITECTURES, Architecture


class DiscriminatorBlock(nn.Module):
    """One resolution: (fromrgb) -> 3x3 conv -> 3x3 conv /2, plus a 1x1 /2 skip scaled by sqrt(1/2) ('resnet').

    Sub-modules (official names): `fromrgb` (first block or 'skip'), `conv0`, `conv1`, `skip` ('resnet').
    """

    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        resolution: int,
        img_channels: int,
        architecture: Architecture = "resnet",
        activation: str = "lrelu",
        conv_clamp: float | None = None,
        use_fp16: bool = False,
    ) -> None:
        if in_channels not in (0, tmp_channels):
            raise ValueError(f"in_channels must be 0 or tmp_channels ({tmp_channels}), got {in_channels}")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.reduced_dtype = torch.float16
        self.register_buffer("resample_filter", setup_filter(FIR_TAPS))
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation=activation, conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation=activation, conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation=activation, down=2, conv_clamp=conv_clamp)
        if architecture == "resnet":
            self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, force_fp32: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (B, in, res, res) or None, image (B, img_ch, res, res) or None -> features at res/2, image at res/2 ('skip')."""
        device = (x if x is not None else img).device
        dtype = compute_dtype(self.use_fp16, self.reduced_dtype, device, force_fp32)
        if x is not None:
            x = x.to(dtype)
        if self.in_channels == 0 or self.architecture == "skip":
            if img is None or img.shape[1:] != (self.img_channels, self.resolution, self.resolution):
                raise ValueError(f"discriminator block b{self.resolution} expects a (B, {self.img_channels}, {self.resolution}, {self.resolution}) image")
            img = img.to(dtype)
            y = self.fromrgb(img)
            x = y if x is None else x + y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv1(self.conv0(x))
        return x, img

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, architecture={self.architecture}, use_fp16={self.use_fp16}"


class MinibatchStdLayer(nn.Module):
    """Append the mean std-dev over groups of `group_size` samples as `num_channels` extra feature maps."""

    def __init__(self, group_size: int | None, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, H, W) -> (N, C + num_channels, H, W); N must be a multiple of the group size."""
        n, c, h, w = x.shape
        g = n if self.group_size is None else min(self.group_size, n)
        if n % g:
            raise ValueError(f"minibatch std: batch {n} is not a multiple of the group size {g}")
        f = self.num_channels
        # Sample i belongs to group i % (n // g); statistics are per group and per channel slice.
        y = x.reshape(g, -1, f, c // f, h, w)  # (G, n/G, F, c, H, W)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # (n/G, F)
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_channels={self.num_channels}"


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: minibatch std -> 3x3 conv -> FC -> FC to cmap_dim, projected on the camera embedding.

    Sub-modules (official names): `fromrgb` ('skip'), `mbstd`, `conv`, `fc`, `out`. Always float32.
    """

    def __init__(
        self,
        in_channels: int,
        cmap_dim: int,
        resolution: int,
        img_channels: int,
        architecture: Architecture = "resnet",
        mbstd_group_size: int | None = 4,
        mbstd_num_channels: int = 1,
        activation: str = "lrelu",
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, in_channels, 1, activation=activation)
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation=activation, conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution**2, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, cmap: torch.Tensor | None) -> torch.Tensor:
        """Features (B, C, 4, 4) and camera embedding (B, cmap_dim) -> logits (B, 1)."""
        x = x.to(torch.float32)
        if self.architecture == "skip":
            x = x + self.fromrgb(img.to(torch.float32))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, architecture={self.architecture}"
