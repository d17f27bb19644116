"""What a latent kind means for a generator: how to get it from W+ and how to render it.

"wplus": the mapping output (B, num_ws, w_dim). "style": StyleSpace tokens (style_space.py).
"""

from __future__ import annotations

import torch

from next3d.diffusion.style_space import (
    latent_features_from_styles,
    style_layout,
    ws_to_styles,
)
from next3d.errors import BadInputError

LATENT_KINDS = ("wplus", "style")


class LatentCodec:
    """Latents of one kind for generator G: `shape`, `from_ws`, `render`, `render_fn`."""

    def __init__(self, G, kind: str):
        if kind not in LATENT_KINDS:
            raise BadInputError(f"latent kind '{kind}': expected one of {', '.join(LATENT_KINDS)}")
        self.G = G
        self.kind = kind
        self.layout = style_layout(G) if kind == "style" else None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.G.num_ws, self.G.w_dim) if self.kind == "wplus" else self.layout.shape

    def from_ws(self, ws: torch.Tensor) -> torch.Tensor:
        """(B, num_ws, w_dim) -> (B, *shape)."""
        return ws if self.kind == "wplus" else self.layout.pack(ws_to_styles(self.G, ws))

    def check(self, latents: torch.Tensor, where: str) -> None:
        if latents.ndim != 3 or tuple(latents.shape[1:]) != self.shape:
            raise BadInputError(f"{where}: {self.kind} latents of shape {tuple(latents.shape)}, this generator "
                                f"needs (N, {self.shape[0]}, {self.shape[1]})")

    def render(self, latents: torch.Tensor, c: torch.Tensor, head_state, options=None):
        """GeneratorOutput of latents (B, *shape) from cameras c (B, 25) with head state (batch B)."""
        planes = self.head_stage(self.latent_stage(latents, options), latents, head_state, options)
        return self.camera_stage(planes, latents, c, options)

    def latent_stage(self, latents: torch.Tensor, options=None):
        """The generator's stage 1 for latents (B, *shape): shared by every head state and camera they are
        rendered with (`head_stage`, then `camera_stage`; together they equal `render`)."""
        options = _options(options)
        if self.kind == "wplus":
            return self.G.latent_stage(latents, options)
        return latent_features_from_styles(self.G, self.layout.unpack(latents), options.noise_mode)

    def head_stage(self, features, latents: torch.Tensor, head_state, options=None):
        return self.G.head_stage(features, self._ws(latents), head_state, _options(options))

    def camera_stage(self, planes, latents: torch.Tensor, c: torch.Tensor, options=None):
        return self.G.camera_stage(planes, self._ws(latents), c, _options(options))

    def _ws(self, latents: torch.Tensor) -> torch.Tensor | None:
        return latents if self.kind == "wplus" else None  # stages 2 and 3 of style latents read styles, not ws

    def render_fn(self, c: torch.Tensor, head_state, options=None):
        """A differentiable latents (B, *shape) -> images (B, 3, H, W) for fixed camera(s) and head state(s)."""
        def render(latents: torch.Tensor) -> torch.Tensor:
            batch = len(latents)
            return self.render(latents, expand_batch(c, batch), expand_batch(head_state, batch), options).image

        return render


def _options(options):
    from next3d.networks.generator import RenderOptions

    return options or RenderOptions()


def expand_batch(value, batch: int):
    """A tensor or HeadParams with batch 1 repeated to `batch` (left alone when it already has that batch)."""
    if isinstance(value, torch.Tensor):
        return value if value.shape[0] == batch else value.expand(batch, *value.shape[1:])
    return value.expand(batch)
