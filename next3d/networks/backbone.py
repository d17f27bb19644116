"""A StyleGAN2 backbone: a synthesis network plus an optional mapping network (official `Generator` layout)."""

from __future__ import annotations

import torch
from torch import nn

from next3d.networks.mapping import MappingNetwork
from next3d.networks.style_unet import StyleUNet
from next3d.networks.synthesis import SynthesisNetwork


class StyleGAN2Backbone(nn.Module):
    """Holds `synthesis` (a `SynthesisNetwork` or a `StyleUNet`) and, when it has its own latent, `mapping`.

    Next3D keeps one mapping (in `backbone`, 28 rows) and gives `texture_backbone`, `mouth_backbone`
    and `neural_blending` only their synthesis parts; the official checkpoints also store an unused
    mapping in each of those three.
    """

    def __init__(self, synthesis: SynthesisNetwork | StyleUNet, mapping: MappingNetwork | None = None) -> None:
        super().__init__()
        self.synthesis = synthesis
        if mapping is not None:
            self.mapping = mapping

    @property
    def num_ws(self) -> int:
        """Rows the synthesis network reads."""
        return self.synthesis.num_ws

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor,
        cond: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
        **synthesis_kwargs,
    ) -> torch.Tensor:
        """Map (z, c) to the synthesis rows and synthesize (a StyleUNet also takes `cond`)."""
        if not hasattr(self, "mapping"):
            raise RuntimeError("this backbone has no mapping network; call .synthesis with ws")
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff, update_emas)[:, : self.num_ws]
        if cond is None:
            return self.synthesis(ws, **synthesis_kwargs)
        return self.synthesis(cond, ws, **synthesis_kwargs)
