"""Generator architectures by name: `tiny` (CPU tests), `small` (the shipped default), `paper` (official sizes).

A `GeneratorConfig` is plain data (JSON round-trip), stored in every checkpoint; the networks are built
from it by `Next3DGenerator`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from next3d.errors import BadInputError
from next3d.networks.decoder import DecoderConfig
from next3d.networks.discriminator import DiscriminatorConfig
from next3d.networks.mapping import MappingConfig
from next3d.networks.style_unet import StyleUNetConfig
from next3d.networks.superresolution import SuperResolutionConfig
from next3d.networks.synthesis import SynthesisConfig
from next3d.render.volume import RenderSettings


@dataclass(frozen=True)
class GeneratorConfig:
    """Every size and setting of a Next3D generator (and the matching dual discriminator)."""

    preset: str = "custom"
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 25
    mapping_layers: int = 2
    c_scale: float = 1.0  # the mapping sees c * c_scale (official rendering_kwargs['c_scale'])
    img_resolution: int = 512  # output image side
    neural_rendering_resolution: int = 64  # volume-rendered feature image side
    plane_resolution: int = 256  # tri-plane and neural texture side
    plane_channels: int = 32  # features per plane, per texel and per decoded sample
    channel_base: int = 32768  # backbone channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    num_fp16_res: int = 0  # backbones' reduced-precision resolutions (official: 0)
    conv_clamp: float | None = None
    mouth_in_size: int = 64  # the lip crop is resized to this side before the mouth StyleUNet
    mouth_final_size: int = 4
    blend_final_size: int = 32
    mouth_box_scale: float = 1.2  # crop side = scale x the lip contour's larger extent
    sr_block_channels: tuple[int, int] = (256, 128)
    sr_upsample_first: bool = True  # raw image bilinearly doubled before block0 (the 8X "DC" variant)
    sr_num_fp16_res: int = 4
    decoder_hidden: int = 64
    decoder_lr_multiplier: float = 1.0
    rendering: RenderSettings = field(default_factory=RenderSettings)
    official_plane_layout: bool = False  # reproduce the official view -> plane assignment (imported weights)
    architecture: str = "next3d"  # "next3d" | "eg3d" (static tri-plane only: no texture, mouth, blending)
    # Discriminator (training only).
    d_channel_base: int = 32768
    d_channel_max: int = 512
    d_num_fp16_res: int = 4
    d_mapping_layers: int = 8
    disc_c_noise: float = 1.0

    def to_dict(self) -> dict:
        """JSON-ready dict (nested render settings, tuples as lists)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "generator config") -> "GeneratorConfig":
        """Inverse of `to_dict`, naming unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInputError(f"{where}: unknown settings {', '.join(unknown)} (written by a newer version?)")
        data = dict(data)
        if "rendering" in data:
            data["rendering"] = RenderSettings(**data["rendering"])
        if "sr_block_channels" in data:
            data["sr_block_channels"] = tuple(data["sr_block_channels"])
        return cls(**data)

    def replace(self, **changes) -> "GeneratorConfig":
        return dataclasses.replace(self, **changes)

    # -- sub-network configs --------------------------------------------------------------------------
    def synthesis(self, img_channels: int) -> SynthesisConfig:
        """A plane-resolution StyleGAN2 synthesis network (static tri-plane or neural texture)."""
        return SynthesisConfig(w_dim=self.w_dim, img_resolution=self.plane_resolution, img_channels=img_channels,
                               channel_base=self.channel_base, channel_max=self.channel_max,
                               num_fp16_res=self.num_fp16_res, conv_clamp=self.conv_clamp,
                               fused_modconv_default="inference_only")

    def mouth(self) -> StyleUNetConfig:
        return StyleUNetConfig(w_dim=self.w_dim, img_resolution=self.plane_resolution,
                               img_channels=self.plane_channels, cond_channels=self.plane_channels,
                               in_size=self.mouth_in_size, final_size=self.mouth_final_size,
                               num_cond_res=self.mouth_in_size, channel_base=self.channel_base,
                               channel_max=self.channel_max, num_fp16_res=self.num_fp16_res,
                               conv_clamp=self.conv_clamp, fused_modconv_default="inference_only")

    def blending(self) -> StyleUNetConfig:
        return StyleUNetConfig(w_dim=self.w_dim, img_resolution=self.plane_resolution,
                               img_channels=self.plane_channels, cond_channels=self.plane_channels,
                               in_size=self.plane_resolution, final_size=self.blend_final_size,
                               num_cond_res=self.plane_resolution, channel_base=self.channel_base,
                               channel_max=self.channel_max, num_fp16_res=self.num_fp16_res,
                               conv_clamp=self.conv_clamp, fused_modconv_default="inference_only")

    def superresolution(self) -> SuperResolutionConfig:
        return SuperResolutionConfig(channels=self.plane_channels, img_resolution=self.img_resolution,
                                     block_channels=self.sr_block_channels, upsample_first=self.sr_upsample_first,
                                     w_dim=self.w_dim, sr_num_fp16_res=self.sr_num_fp16_res,
                                     fused_modconv_default="inference_only")

    def decoder(self) -> DecoderConfig:
        return DecoderConfig(n_features=self.plane_channels, hidden_dim=self.decoder_hidden,
                             output_dim=self.plane_channels, lr_multiplier=self.decoder_lr_multiplier)

    def mapping(self, num_ws: int) -> MappingConfig:
        return MappingConfig(z_dim=self.z_dim, c_dim=self.c_dim, w_dim=self.w_dim, num_ws=num_ws,
                             num_layers=self.mapping_layers)

    def discriminator(self, c_dim: int | None = None, cond_channels: int = 0) -> DiscriminatorConfig:
        return DiscriminatorConfig(c_dim=self.c_dim if c_dim is None else c_dim, cond_channels=cond_channels,
                                   img_resolution=self.img_resolution,
                                   channel_base=self.d_channel_base, channel_max=self.d_channel_max,
                                   num_fp16_res=self.d_num_fp16_res, conv_clamp=256 if self.d_num_fp16_res else None,
                                   disc_c_noise=self.disc_c_noise, mapping_num_layers=self.d_mapping_layers)


PRESETS: dict[str, GeneratorConfig] = {
    # Official Next3D FFHQ 512 sizes (docs/official_layout.md).
    "paper": GeneratorConfig(preset="paper"),
    # The shipped default: trainable on one GPU in minutes, <= 16 MB as fp16.
    "small": GeneratorConfig(
        preset="small", img_resolution=128, neural_rendering_resolution=64, plane_resolution=128,
        plane_channels=32, channel_base=4096, channel_max=96, mouth_in_size=32, mouth_final_size=4,
        blend_final_size=16, sr_block_channels=(64, 32), sr_upsample_first=False, sr_num_fp16_res=4,
        rendering=RenderSettings(samples=32, importance_samples=32),
        d_channel_base=4096, d_channel_max=128, d_num_fp16_res=2, d_mapping_layers=2,
    ),
    # CPU tests and quick checks: a frame well under a second on 2 cores.
    "tiny": GeneratorConfig(
        preset="tiny", img_resolution=64, neural_rendering_resolution=32, plane_resolution=64,
        plane_channels=16, channel_base=1024, channel_max=32, mouth_in_size=16, mouth_final_size=4,
        blend_final_size=16, sr_block_channels=(32, 16), sr_upsample_first=False, sr_num_fp16_res=0,
        decoder_hidden=32, rendering=RenderSettings(samples=12, importance_samples=12),
        d_channel_base=1024, d_channel_max=32, d_num_fp16_res=0, d_mapping_layers=2,
    ),
}


def preset_config(name: str, **overrides) -> GeneratorConfig:
    """The named preset, optionally with some fields replaced."""
    if name not in PRESETS:
        raise BadInputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
