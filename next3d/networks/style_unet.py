"""Next3D's conditional StyleUNet (mouth and neural-blending nets): a residual encoder of the input
feature image whose multi-scale features are fused into a StyleGAN2 synthesis decoder.

Official layout (Next3D `networks_stylegan2_styleunet.SynthesisNetwork`): `encoder.{i}` for input
resolutions in_size, in_size/2, ..., 2*final_size; `fusion.{j}` 3x3 convs at final_size * 2**j (the
first maps the deepest encoder features, the others the concatenation of decoder and encoder
features); decoder blocks `b{res}` for res = 2*final_size .. img_resolution. The official network
also builds blocks b4 .. b{final_size} and a last fusion conv that its forward never runs; they are
not built here (`unbuilt_official_modules` lists them for checkpoint import). w rows are routed as in
a full synthesis network of img_resolution, so the decoder reads the same rows as the official one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from next3d.networks.conv2d_layer import FIR_TAPS, Conv2dLayer
from next3d.networks.ops.upfirdn2d import downsample2d, setup_filter
from next3d.networks.synthesis import SynthesisConfig, check_ws, w_row_layout
from next3d.networks.synthesis_block import Architecture, FusedModconv, SynthesisBlock
from next3d.networks.synthesis_layer import NoiseMode


def _is_pow2(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


@dataclass(frozen=True)
class StyleUNetConfig:
    """Sizes of a `StyleUNet` (field names are the official init kwargs).

    Official Next3D: mouth in_size=64, final_size=4, num_cond_res=64; blending in_size=256,
    final_size=32, num_cond_res=256; both img_resolution=256, img_channels=cond_channels=32.
    """

    w_dim: int = 512
    img_resolution: int = 256
    img_channels: int = 32
    cond_channels: int = 32
    in_size: int = 64
    final_size: int = 4
    num_cond_res: int = 64
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 0
    conv_clamp: float | None = None
    architecture: Architecture = "skip"
    fused_modconv_default: FusedModconv = True
    use_noise: bool = True

    def synthesis(self) -> SynthesisConfig:
        """The decoder's channel/precision layout as a plain synthesis network of the same sizes."""
        return SynthesisConfig(
            w_dim=self.w_dim, img_resolution=self.img_resolution, img_channels=self.img_channels,
            channel_base=self.channel_base, channel_max=self.channel_max, num_fp16_res=self.num_fp16_res,
            conv_clamp=self.conv_clamp, architecture=self.architecture,
            fused_modconv_default=self.fused_modconv_default, use_noise=self.use_noise,
        )

    def validate(self) -> None:
        """Raise ValueError on sizes the official forward cannot run."""
        for name in ("img_resolution", "in_size", "final_size"):
            if not _is_pow2(getattr(self, name)):
                raise ValueError(f"StyleUNet {name} must be a power of two, got {getattr(self, name)}")
        if not 4 <= self.final_size < self.in_size <= self.img_resolution:
            raise ValueError(f"StyleUNet needs 4 <= final_size < in_size <= img_resolution, got {self.final_size}, {self.in_size}, {self.img_resolution}")
        if not self.final_size < self.num_cond_res <= self.in_size:
            raise ValueError(f"StyleUNet needs final_size < num_cond_res <= in_size, got {self.num_cond_res}")


class EncoderResBlock(nn.Module):
    """Encoder stage: (FIR-downsampled) input image -> 1x1 fromrgb, + previous stage features, 3x3 conv, 3x3 conv /2.

    Sub-modules: `fromrgb` (linear, no bias), `conv1` (lrelu), `conv2` (lrelu, down 2); buffer `resample_filter`.
    """

    def __init__(self, img_channels: int, in_channels: int, out_channels: int, downsample: bool = True) -> None:
        super().__init__()
        self.fromrgb = Conv2dLayer(img_channels, in_channels, 1, activation="linear", bias=False)
        self.conv1 = Conv2dLayer(in_channels, in_channels, 3, activation="lrelu")
        self.conv2 = Conv2dLayer(in_channels, out_channels, 3, down=2, activation="lrelu")
        self.register_buffer("resample_filter", setup_filter(FIR_TAPS))
        self.downsample = downsample

    def forward(self, image: torch.Tensor, skip: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (the image at this stage's resolution, features at half of it)."""
        if self.downsample:
            image = downsample2d(image, self.resample_filter)
        out = self.fromrgb(image)
        if skip is not None:
            out = out + skip
        return image, self.conv2(self.conv1(out))


class StyleUNet(nn.Module):
    """cond image (B, cond_channels, in_size, in_size) + ws (B, num_ws, w_dim) -> (B, img_channels, img_res, img_res)."""

    def __init__(self, config: StyleUNetConfig) -> None:
        config.validate()
        super().__init__()
        self.config = config
        syn = config.synthesis()
        self.w_dim = config.w_dim
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels

        encoder_res = [config.in_size // 2**i for i in range((config.in_size // config.final_size).bit_length() - 1)]
        self.encoder = nn.ModuleList(
            EncoderResBlock(config.cond_channels, syn.channels(r), syn.channels(r // 2), downsample=r < config.in_size)
            for r in encoder_res
        )
        # Encoder outputs, deepest first, are at final_size * 2**j; only those below num_cond_res are fused.
        fused_res = [config.final_size * 2**j for j in range(len(encoder_res)) if config.final_size * 2**j < config.num_cond_res]
        self.fusion = nn.ModuleList(
            Conv2dLayer(syn.channels(r) * (1 if j == 0 else 2), syn.channels(r), 3, activation="linear")
            for j, r in enumerate(fused_res)
        )
        self.block_resolutions = [r for r in syn.block_resolutions if r > config.final_size]
        for r in self.block_resolutions:
            block = SynthesisBlock(
                in_channels=syn.channels(r // 2), out_channels=syn.channels(r), w_dim=config.w_dim, resolution=r,
                img_channels=config.img_channels, is_last=r == config.img_resolution, architecture=config.architecture,
                conv_clamp=config.conv_clamp, use_fp16=syn.uses_fp16(r),
                fused_modconv_default=config.fused_modconv_default, use_noise=config.use_noise,
            )
            self.add_module(f"b{r}", block)
        all_rows, self.num_ws = w_row_layout(syn.block_resolutions, config.architecture)
        built = tuple(f"b{r}." for r in self.block_resolutions)
        self.w_rows = {name: row for name, row in all_rows.items() if name.startswith(built)}
        # The official net builds one fusion conv per encoder resolution plus final_size, used or not.
        self._unbuilt = [f"b{r}" for r in syn.block_resolutions if r <= config.final_size]
        self._unbuilt += [f"fusion.{j}" for j in range(len(fused_res), len(encoder_res) + 1)]

    def unbuilt_official_modules(self) -> list[str]:
        """Module paths the official network has but never runs (their checkpoint tensors are unused)."""
        return list(self._unbuilt)

    def styles(self, ws: torch.Tensor) -> dict[str, torch.Tensor]:
        """Modulations of the decoder layers, keyed 'b{res}.{layer}'; ws is the full (B, num_ws, w_dim)."""
        check_ws(ws, self.num_ws, self.w_dim, "StyleUNet")
        ws = ws.to(torch.float32)
        return {name: self.get_submodule(name).style(ws[:, row]) for name, row in self.w_rows.items()}

    def synthesize(
        self,
        cond: torch.Tensor,
        styles: dict[str, torch.Tensor],
        noise_mode: NoiseMode = "random",
        fused_modconv: FusedModconv | None = None,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        """Run encoder and decoder from precomputed styles."""
        c = self.config
        if cond.ndim != 4 or cond.shape[1:] != (c.cond_channels, c.in_size, c.in_size):
            raise ValueError(f"StyleUNet cond must be (B, {c.cond_channels}, {c.in_size}, {c.in_size}), got {tuple(cond.shape)}")
        features = []
        image, feat = cond, None
        for block in self.encoder:
            image, feat = block(image, feat)
            features.append(feat)
        features.reverse()  # deepest (final_size) first

        x = img = None
        for idx, r in enumerate(self.block_resolutions):
            if idx < len(self.fusion):
                x = self.fusion[idx](features[idx] if idx == 0 else torch.cat([x, features[idx]], dim=1))
            prefix = f"b{r}."
            block_styles = {k[len(prefix):]: v for k, v in styles.items() if k.startswith(prefix)}
            x, img = getattr(self, f"b{r}")(x, img, block_styles, noise_mode, fused_modconv, force_fp32)
        return img

    def forward(
        self,
        cond: torch.Tensor,
        ws: torch.Tensor,
        noise_mode: NoiseMode = "random",
        fused_modconv: FusedModconv | None = None,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        """cond (B, cond_channels, in_size, in_size), ws (B, num_ws, w_dim) -> (B, img_channels, img_res, img_res)."""
        return self.synthesize(cond, self.styles(ws), noise_mode, fused_modconv, force_fp32)
