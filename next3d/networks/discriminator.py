"""EG3D's dual discriminator: judges the final image concatenated with the upsampled raw rendering (6 channels),
conditioned on the camera label through a projection, and optionally on condition images (extra input
channels, e.g. the mouth-opening mask of `train --d-mouth-mask`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from next3d.networks.discriminator_block import DiscriminatorBlock, DiscriminatorEpilogue
from next3d.networks.mapping import MappingConfig, MappingNetwork
from next3d.networks.ops.upfirdn2d import downsample2d, setup_filter, upsample2d
from next3d.networks.synthesis_block import Architecture

FilterMode = str | float


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Sizes of a `DualDiscriminator` (names follow the official init kwargs; mbstd_* are its epilogue_kwargs,
    mapping_num_layers its mapping_kwargs.num_layers, which the official training leaves at 8)."""

    c_dim: int = 25
    img_resolution: int = 512
    img_channels: int = 3
    architecture: Architecture = "resnet"
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 4
    conv_clamp: float | None = 256
    cmap_dim: int | None = None
    disc_c_noise: float = 0.0
    mbstd_group_size: int | None = 4
    mbstd_num_channels: int = 1
    mapping_num_layers: int = 8
    raw_filter_mode: FilterMode = "antialiased"
    cond_channels: int = 0  # condition-image channels concatenated after image and raw image (not official)

    def channels(self, resolution: int) -> int:
        """Feature channels at `resolution`."""
        return min(self.channel_base // resolution, self.channel_max)


def filtered_resizing(image: torch.Tensor, size: int, f: torch.Tensor, filter_mode: FilterMode = "antialiased") -> torch.Tensor:
    """Resize (B, C, h, w) to (B, C, size, size): 'antialiased' / 'none' bilinear, 'classic' FIR, or a float
    in (0, 1) blending aliased and antialiased bilinear."""
    if filter_mode == "antialiased":
        return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    if filter_mode == "classic":
        image = upsample2d(image, f, up=2)
        image = F.interpolate(image, size=(size * 2 + 2, size * 2 + 2), mode="bilinear", align_corners=False)
        return downsample2d(image, f, down=2, flip_filter=True, padding=-1)
    if filter_mode == "none":
        return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)
    if isinstance(filter_mode, float) and 0 < filter_mode < 1:
        filtered = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        aliased = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
        return (1 - filter_mode) * aliased + filter_mode * filtered
    raise ValueError(f"filter_mode must be 'antialiased', 'classic', 'none' or a float in (0, 1), got {filter_mode!r}")


class DualDiscriminator(nn.Module):
    """(image (B, 3, R, R), raw image (B, 3, r, r), camera label (B, c_dim)[, condition image
    (B, cond_channels, R, R)]) -> logits (B, 1).

    Sub-modules (official names): `b{R}` .. `b8` (DiscriminatorBlock), `mapping` (c -> cmap), `b4`
    (epilogue); buffer `resample_filter`.
    """

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.c_dim = config.c_dim
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels * 2 + config.cond_channels
        self.disc_c_noise = config.disc_c_noise
        log2 = config.img_resolution.bit_length() - 1
        self.block_resolutions = [2**i for i in range(log2, 2, -1)]
        fp16_resolution = max(2 ** (log2 + 1 - config.num_fp16_res), 8)
        cmap_dim = config.channels(4) if config.cmap_dim is None else config.cmap_dim
        cmap_dim = 0 if config.c_dim == 0 else cmap_dim
        for r in self.block_resolutions:
            block = DiscriminatorBlock(
                in_channels=config.channels(r) if r < config.img_resolution else 0,
                tmp_channels=config.channels(r),
                out_channels=config.channels(r // 2),
                resolution=r,
                img_channels=self.img_channels,
                architecture=config.architecture,
                conv_clamp=config.conv_clamp,
                use_fp16=r >= fp16_resolution,
            )
            self.add_module(f"b{r}", block)
        if config.c_dim > 0:
            self.mapping = MappingNetwork(
                MappingConfig(z_dim=0, c_dim=config.c_dim, w_dim=cmap_dim, num_ws=None, num_layers=config.mapping_num_layers, w_avg_beta=None)
            )
        self.b4 = DiscriminatorEpilogue(
            config.channels(4), cmap_dim=cmap_dim, resolution=4, img_channels=self.img_channels,
            architecture=config.architecture, mbstd_group_size=config.mbstd_group_size,
            mbstd_num_channels=config.mbstd_num_channels, conv_clamp=config.conv_clamp,
        )
        self.register_buffer("resample_filter", setup_filter([1, 3, 3, 1]))

    def forward(self, image: torch.Tensor, image_raw: torch.Tensor, c: torch.Tensor | None, force_fp32: bool = False,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, 1); with disc_c_noise > 0, c gets Gaussian noise of disc_c_noise x its batch std (as official).
        `cond` is required exactly when the config has cond_channels."""
        raw = filtered_resizing(image_raw, image.shape[-1], self.resample_filter, self.config.raw_filter_mode)
        given = 0 if cond is None else cond.shape[1]
        if given != self.config.cond_channels:
            raise ValueError(f"this discriminator takes {self.config.cond_channels} condition-image channels, "
                             f"got {given}")
        img = torch.cat([image, raw] + ([cond.to(image.dtype)] if given else []), dim=1)
        x = None
        for r in self.block_resolutions:
            x, img = getattr(self, f"b{r}")(x, img, force_fp32)
        cmap = None
        if self.c_dim > 0:
            if self.disc_c_noise > 0:
                c = c + torch.randn_like(c) * c.std(0) * self.disc_c_noise
            cmap = self.mapping(None, c)
        return self.b4(x, img, cmap)

    def extra_repr(self) -> str:
        return (f"c_dim={self.c_dim}, img_resolution={self.img_resolution}, img_channels={self.img_channels}, "
                f"cond_channels={self.config.cond_channels}")
