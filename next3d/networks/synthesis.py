"""StyleGAN2 synthesis network: blocks b4 .. b{img_resolution}, each fed by its own w rows."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from next3d.networks.synthesis_block import Architecture, FusedModconv, SynthesisBlock
from next3d.networks.synthesis_layer import NoiseMode


@dataclass(frozen=True)
class SynthesisConfig:
    """Sizes of a `SynthesisNetwork` (field names are the official init kwargs).

    Channels at resolution r are min(channel_base // r, channel_max). The `num_fp16_res` highest
    resolutions (never below 8) compute in reduced precision; `conv_clamp` clamps conv outputs.
    """

    w_dim: int = 512
    img_resolution: int = 256
    img_channels: int = 96
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 0
    conv_clamp: float | None = None
    architecture: Architecture = "skip"
    fused_modconv_default: FusedModconv = True
    use_noise: bool = True

    def channels(self, resolution: int) -> int:
        """Feature channels of the block at `resolution`."""
        return min(self.channel_base // resolution, self.channel_max)

    @property
    def block_resolutions(self) -> list[int]:
        """4, 8, ..., img_resolution."""
        return [2**i for i in range(2, self.img_resolution.bit_length())]

    def uses_fp16(self, resolution: int) -> bool:
        """Whether the block at `resolution` computes in reduced precision."""
        log2 = self.img_resolution.bit_length() - 1
        return resolution >= max(2 ** (log2 + 1 - self.num_fp16_res), 8)


def w_row_layout(block_resolutions: list[int], architecture: Architecture) -> tuple[dict[str, int], int]:
    """Which w row feeds each styled layer ('b8.conv0' -> 1, ...) and the number of rows, as StyleGAN2 routes them.

    Block b4 has conv1 (+ torgb), later blocks conv0, conv1 (+ torgb); a block's toRGB shares its row
    with the next block's conv0, so the last block's toRGB takes the last row.
    """
    rows: dict[str, int] = {}
    w_idx = 0
    for res in block_resolutions:
        convs = ["conv1"] if res == block_resolutions[0] else ["conv0", "conv1"]
        for i, name in enumerate(convs):
            rows[f"b{res}.{name}"] = w_idx + i
        if architecture == "skip" or res == block_resolutions[-1]:
            rows[f"b{res}.torgb"] = w_idx + len(convs)
        w_idx += len(convs)
    return rows, w_idx + 1


def check_ws(ws: torch.Tensor, num_ws: int, w_dim: int, who: str) -> None:
    """Raise a one-line error unless ws is (B, num_ws, w_dim)."""
    if ws.ndim != 3 or ws.shape[1:] != (num_ws, w_dim):
        raise ValueError(f"{who}: ws must be (B, {num_ws}, {w_dim}), got {tuple(ws.shape)}")


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, w_dim) -> image (B, img_channels, img_resolution, img_resolution); blocks are `b4`, `b8`, ...

    Use `styles(ws)` once per latent and `synthesize(styles)` per frame to skip the affine layers.
    """

    def __init__(self, config: SynthesisConfig) -> None:
        res = config.img_resolution
        if res < 4 or res & (res - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {res}")
        super().__init__()
        self.config = config
        self.w_dim = config.w_dim
        self.img_resolution = res
        self.img_channels = config.img_channels
        self.block_resolutions = config.block_resolutions
        for r in self.block_resolutions:
            block = SynthesisBlock(
                in_channels=config.channels(r // 2) if r > 4 else 0,
                out_channels=config.channels(r),
                w_dim=config.w_dim,
                resolution=r,
                img_channels=config.img_channels,
                is_last=r == res,
                architecture=config.architecture,
                conv_clamp=config.conv_clamp,
                use_fp16=config.uses_fp16(r),
                fused_modconv_default=config.fused_modconv_default,
                use_noise=config.use_noise,
            )
            self.add_module(f"b{r}", block)
        self.w_rows, self.num_ws = w_row_layout(self.block_resolutions, config.architecture)

    def styles(self, ws: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every styled layer's modulation, keyed 'b{res}.{layer}', in w-row order."""
        check_ws(ws, self.num_ws, self.w_dim, "synthesis")
        ws = ws.to(torch.float32)
        return {name: self.get_submodule(name).style(ws[:, row]) for name, row in self.w_rows.items()}

    def synthesize(
        self,
        styles: dict[str, torch.Tensor],
        noise_mode: NoiseMode = "random",
        fused_modconv: FusedModconv | None = None,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        """Run the blocks from precomputed styles."""
        x = img = None
        for r in self.block_resolutions:
            prefix = f"b{r}."
            block_styles = {k[len(prefix):]: v for k, v in styles.items() if k.startswith(prefix)}
            x, img = getattr(self, f"b{r}")(x, img, block_styles, noise_mode, fused_modconv, force_fp32)
        return img

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: NoiseMode = "random",
        fused_modconv: FusedModconv | None = None,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        """ws (B, num_ws, w_dim) -> image (B, img_channels, img_resolution, img_resolution), float32."""
        return self.synthesize(self.styles(ws), noise_mode, fused_modconv, force_fp32)

    def extra_repr(self) -> str:
        c = self.config
        return f"w_dim={c.w_dim}, num_ws={self.num_ws}, img_resolution={c.img_resolution}, img_channels={c.img_channels}, num_fp16_res={c.num_fp16_res}"
