"""StyleSpace latents: every styled layer's modulation vector of the generator, one token per layer.

Token order follows the seed: texture generator, mouth net, blending net, static tri-plane, super-resolution
(an EG3D-architecture generator has only the last two); inside a network, its own layer order. Each vector
is zero-padded to the widest style (512 at paper size: 73 x 512). Rendering from styles runs the same
modulated convolutions as rendering from W+, so styles computed from ws render the same image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from next3d.errors import BadInputError

STYLE_GROUPS = ("texture", "mouth", "blending", "static", "superresolution")


@dataclass(frozen=True)
class StyleLayout:
    """Which (group, layer) each token is and how many of its `width` numbers are real (the rest is padding)."""

    tokens: tuple[tuple[str, str, int], ...]
    width: int

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.tokens), self.width

    def pack(self, styles: dict[str, dict[str, torch.Tensor]]) -> torch.Tensor:
        """Nested {group: {layer: (B, C)}} -> (B, L, width), zero-padded."""
        rows = [torch.nn.functional.pad(styles[g][name], (0, self.width - dim)) for g, name, dim in self.tokens]
        return torch.stack(rows, dim=1)

    def unpack(self, latents: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
        """(B, L, width) -> nested {group: {layer: (B, C)}} (padding dropped)."""
        if latents.ndim != 3 or tuple(latents.shape[1:]) != self.shape:
            raise BadInputError(f"style latents have shape {tuple(latents.shape)}, this generator needs "
                                f"(B, {self.shape[0]}, {self.shape[1]})")
        styles: dict[str, dict[str, torch.Tensor]] = {}
        for i, (group, name, dim) in enumerate(self.tokens):
            styles.setdefault(group, {})[name] = latents[:, i, :dim]
        return styles


def style_networks(G) -> dict[str, torch.nn.Module]:
    """The generator's styled sub-networks by group (each has `styles(ws)` and `synthesize(..., styles)`)."""
    nets = {"static": G.backbone.synthesis, "superresolution": G.superresolution}
    if not getattr(G, "is_eg3d", False):
        nets.update(texture=G.texture_backbone.synthesis, mouth=G.mouth_backbone.synthesis,
                    blending=G.neural_blending.synthesis)
    return {g: nets[g] for g in STYLE_GROUPS if g in nets}


def ws_to_styles(G, ws: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
    """W+ (B, num_ws, w_dim) -> nested styles; the texture net reads rows eg3d_num_ws.., the others rows 0.."""
    eg3d_ws, texture_ws = ws[:, : G.eg3d_num_ws], ws[:, G.eg3d_num_ws:]
    return {group: net.styles(texture_ws if group == "texture" else eg3d_ws)
            for group, net in style_networks(G).items()}


def style_layout(G) -> StyleLayout:
    """The token layout of G's StyleSpace (from one probe of the affine layers)."""
    param = next(G.parameters())
    with torch.no_grad():
        styles = ws_to_styles(G, torch.zeros(1, G.num_ws, G.w_dim, device=param.device))
    tokens = tuple((group, name, int(v.shape[1])) for group, layers in styles.items() for name, v in layers.items())
    return StyleLayout(tokens, max(dim for _, _, dim in tokens))


def latent_features_from_styles(G, styles: dict[str, dict[str, torch.Tensor]], noise_mode: str = "const"):
    """Stage 1 of the generator (G.latent_stage) computed from styles instead of ws."""
    from next3d.networks.generator import LatentFeatures

    static = G.backbone.synthesis.synthesize(styles["static"], noise_mode=noise_mode)
    batch, _, res, _ = static.shape
    texture = None
    if not getattr(G, "is_eg3d", False):
        texture = G.texture_backbone.synthesis.synthesize(styles["texture"], noise_mode=noise_mode)
    return LatentFeatures(texture=texture, static_planes=static.reshape(batch, 3, -1, res, res),
                          mouth_styles=styles.get("mouth", {}), blend_styles=styles.get("blending", {}),
                          sr_styles=styles["superresolution"])
