"""One resolution of a StyleGAN2 synthesis network: (const or x2 upsampling) conv0, conv1, toRGB."""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
from torch import nn

from next3d.networks.conv2d_layer import FIR_TAPS, Conv2dLayer
from next3d.networks.ops.upfirdn2d import setup_filter, upsample2d
from next3d.networks.precision import compute_dtype
from next3d.networks.synthesis_layer import NoiseMode, SynthesisLayer, ToRGBLayer

Architecture = Literal["orig", "skip", "resnet"]
ARCHITECTURES = ("orig", "skip", "resnet")
FusedModconv = bool | Literal["inference_only"]


def resolve_fused_modconv(requested: FusedModconv | None, default: FusedModconv, training: bool) -> bool:
    """Turn a fused-modconv request (None = the block default; 'inference_only' = fused unless training) into a bool."""
    value = default if requested is None else requested
    if value == "inference_only":
        return not training
    return bool(value)


class SynthesisBlock(nn.Module):
    """StyleGAN2 synthesis block at `resolution`; `upsample=False` gives EG3D's `SynthesisBlockNoUp`.

    architecture 'skip': every block adds its toRGB output to the FIR-upsampled image of the block
    before; 'resnet': conv path + 1x1 skip conv, each scaled by sqrt(1/2); 'orig': plain convs.
    Sub-modules (official names): `const` (first block), `conv0`, `conv1`, `torgb`, `skip`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: Architecture = "skip",
        resample_filter: Sequence[float] = FIR_TAPS,
        conv_clamp: float | None = 256,
        use_fp16: bool = False,
        fused_modconv_default: FusedModconv = True,
        upsample: bool = True,
        use_noise: bool = True,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.is_last = is_last
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.reduced_dtype = torch.float16
        self.fused_modconv_default = fused_modconv_default
        self.up = 2 if upsample else 1
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = 0
        self.num_torgb = 0

        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(
                in_channels, out_channels, w_dim, resolution, up=self.up,
                resample_filter=resample_filter, conv_clamp=conv_clamp, use_noise=use_noise,
            )
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp, use_noise=use_noise)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=self.up, resample_filter=resample_filter)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Styled layers in the order they consume w rows."""
        names = ("conv1",) if self.in_channels == 0 else ("conv0", "conv1")
        return names + (("torgb",) if self.num_torgb else ())

    def styles(self, ws: torch.Tensor) -> dict[str, torch.Tensor]:
        """Styles of this block's layers from its rows ws (B, num_conv + num_torgb, w_dim)."""
        if ws.shape[1] != len(self.layer_names):
            raise ValueError(f"block b{self.resolution} needs {len(self.layer_names)} w rows, got {ws.shape[1]}")
        return {name: getattr(self, name).style(ws[:, i]) for i, name in enumerate(self.layer_names)}

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        styles: dict[str, torch.Tensor],
        noise_mode: NoiseMode = "random",
        fused_modconv: FusedModconv | None = None,
        force_fp32: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features x (B, in, res/up, res/up) or None (first block), image (B, img_ch, .., ..) or None ->
        features (B, out, res, res) in the block's compute dtype and image (B, img_ch, res, res) in float32."""
        fused = resolve_fused_modconv(fused_modconv, self.fused_modconv_default, self.training)
        first_style = styles[self.layer_names[0]]
        dtype = compute_dtype(self.use_fp16, self.reduced_dtype, first_style.device, force_fp32)
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).expand(first_style.shape[0], -1, -1, -1)
        else:
            in_res = self.resolution // self.up
            if x is None or x.shape[1:] != (self.in_channels, in_res, in_res):
                raise ValueError(f"block b{self.resolution} expects (B, {self.in_channels}, {in_res}, {in_res}) features")
            x = x.to(dtype)

        if self.in_channels == 0:
            x = self.conv1(x, styles["conv1"], noise_mode, fused)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, styles["conv0"], noise_mode, fused)
            x = self.conv1(x, styles["conv1"], noise_mode, fused, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv0(x, styles["conv0"], noise_mode, fused)
            x = self.conv1(x, styles["conv1"], noise_mode, fused)

        if img is not None and self.up > 1:
            img = upsample2d(img, self.resample_filter, up=self.up)
        if self.num_torgb:
            y = self.torgb(x, styles["torgb"], fused).to(torch.float32)
            img = y if img is None else img + y
        return x, img

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, architecture={self.architecture}, use_fp16={self.use_fp16}"
