"""EG3D's super-resolution: two StyleGAN2 synthesis blocks that take the raw neural rendering to the output size.

Raw feature image (B, C, n, n) and its RGB part are bilinearly resized to `input_resolution`, then
block0 (x2 unless it is a 'NoUp' block) and block1 (x2) refine them; both read only the last w row.
Official variants (EG3D `superresolution.py`):
- SuperresolutionHybrid8XDC: 128 -> 256 (256 ch) -> 512 (128 ch)   [Next3D/EG3D 512 models]
- SuperresolutionHybrid8X:   128 -> 256 (128 ch) -> 512 (64 ch)
- SuperresolutionHybrid4X:   128 -> 128 NoUp (128 ch) -> 256 (64 ch)
- SuperresolutionHybrid2X:   64 -> 64 NoUp (128 ch) -> 128 (64 ch)
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import nn

from next3d.networks.synthesis_block import FusedModconv, SynthesisBlock
from next3d.networks.synthesis_layer import NoiseMode

# Official class name -> (block channels, block0 upsamples, output resolution).
_OFFICIAL_VARIANTS = MappingProxyType({
    "SuperresolutionHybrid8XDC": ((256, 128), True, 512),
    "SuperresolutionHybrid8X": ((128, 64), True, 512),
    "SuperresolutionHybrid4X": ((128, 64), False, 256),
    "SuperresolutionHybrid2X": ((128, 64), False, 128),
})


@dataclass(frozen=True)
class SuperResolutionConfig:
    """Sizes of a `SuperResolution` net. `sr_num_fp16_res > 0` puts both blocks in reduced precision with conv clamp 256."""

    channels: int = 32
    img_resolution: int = 512
    block_channels: tuple[int, int] = (256, 128)
    upsample_first: bool = True
    w_dim: int = 512
    img_channels: int = 3
    sr_num_fp16_res: int = 4
    sr_antialias: bool = True
    fused_modconv_default: FusedModconv = True
    use_noise: bool = True

    @property
    def input_resolution(self) -> int:
        """Side the raw image is resized to before block0."""
        return self.img_resolution // (4 if self.upsample_first else 2)

    @property
    def use_fp16(self) -> bool:
        """Whether both blocks compute in reduced precision."""
        return self.sr_num_fp16_res > 0

    @classmethod
    def official(cls, class_name: str, **kwargs) -> "SuperResolutionConfig":
        """Config of an official EG3D class (`rendering_kwargs['superresolution_module']`, module path allowed)."""
        name = class_name.rsplit(".", 1)[-1]
        if name not in _OFFICIAL_VARIANTS:
            raise ValueError(f"unknown super-resolution module {class_name!r}; known: {sorted(_OFFICIAL_VARIANTS)}")
        block_channels, upsample_first, img_resolution = _OFFICIAL_VARIANTS[name]
        kwargs.setdefault("img_resolution", img_resolution)
        return cls(block_channels=block_channels, upsample_first=upsample_first, **kwargs)


class SuperResolution(nn.Module):
    """(rgb (B, 3, n, n), features (B, C, n, n), ws (B, *, w_dim)) -> image (B, img_channels, R, R).

    Sub-modules (official names): `block0`, `block1`.
    """

    def __init__(self, config: SuperResolutionConfig) -> None:
        super().__init__()
        self.config = config
        self.input_resolution = config.input_resolution
        clamp = 256 if config.use_fp16 else None
        ch0, ch1 = config.block_channels
        common = dict(
            w_dim=config.w_dim, img_channels=config.img_channels, use_fp16=config.use_fp16, conv_clamp=clamp,
            fused_modconv_default=config.fused_modconv_default, use_noise=config.use_noise,
        )
        res0 = config.input_resolution * (2 if config.upsample_first else 1)
        self.block0 = SynthesisBlock(config.channels, ch0, resolution=res0, is_last=False, upsample=config.upsample_first, **common)
        self.block1 = SynthesisBlock(ch0, ch1, resolution=config.img_resolution, is_last=True, **common)
        if res0 * 2 != config.img_resolution:
            raise ValueError(f"super-resolution sizes do not chain: block0 at {res0}, output {config.img_resolution}")

    def styles(self, ws: torch.Tensor) -> dict[str, torch.Tensor]:
        """Modulations of all six layers, keyed 'block{i}.{layer}'; every layer reads the last row of ws."""
        w = ws[:, -1].to(torch.float32)
        out = {}
        for block_name in ("block0", "block1"):
            block = getattr(self, block_name)
            for layer in block.layer_names:
                out[f"{block_name}.{layer}"] = getattr(block, layer).style(w)
        return out

    def synthesize(
        self,
        rgb: torch.Tensor,
        features: torch.Tensor,
        styles: dict[str, torch.Tensor],
        noise_mode: NoiseMode = "none",
        fused_modconv: FusedModconv | None = None,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        """Upsample from precomputed styles."""
        size = self.input_resolution
        if features.shape[-1] != size:
            aa = self.config.sr_antialias
            features = F.interpolate(features, size=(size, size), mode="bilinear", align_corners=False, antialias=aa)
            rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False, antialias=aa)
        x, img = features, rgb
        for block_name in ("block0", "block1"):
            prefix = f"{block_name}."
            block_styles = {k[len(prefix):]: v for k, v in styles.items() if k.startswith(prefix)}
            x, img = getattr(self, block_name)(x, img, block_styles, noise_mode, fused_modconv, force_fp32)
        return img

    def forward(
        self,
        rgb: torch.Tensor,
        features: torch.Tensor,
        ws: torch.Tensor,
        noise_mode: NoiseMode = "none",
        fused_modconv: FusedModconv | None = None,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        """Raw rgb and feature image plus ws -> the output image in float32."""
        return self.synthesize(rgb, features, self.styles(ws), noise_mode, fused_modconv, force_fp32)
