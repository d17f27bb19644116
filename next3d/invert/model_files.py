"""Loading what an inversion needs from a checkpoint: the generator and, from training snapshots, the
discriminator for the feature loss. Nothing is ever written back to the checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from next3d.invert.d_features import DiscriminatorFeatures, load_discriminator_features
from next3d.invert.objective import ReconstructionLoss
from next3d.invert.settings import InversionSettings


@dataclass
class InversionModels:
    """The resolved checkpoint file, its generator (eval, no gradients) and the D feature extractor if any."""

    path: Path
    G: torch.nn.Module
    features: DiscriminatorFeatures | None

    def describe_losses(self, settings: InversionSettings) -> str:
        return ReconstructionLoss(settings, self.features).description


def load_inversion_models(ckpt: str | Path, device: torch.device, features: bool = True) -> InversionModels:
    """Generator (G_ema) of a checkpoint or run directory; with `features`, its D when the file holds one."""
    from next3d.errors import BadInputError
    from next3d.io.checkpoint import load_checkpoint, read_meta, resolve_checkpoint
    from next3d.io.generator_file import generator_from_checkpoint

    path = resolve_checkpoint(ckpt)
    if read_meta(path).get("kind") == "prior":  # refused before any weights are read
        raise BadInputError(f"--ckpt {path}: a diffusion prior checkpoint, not a generator (give it as --prior)")
    checkpoint = load_checkpoint(path)  # read once: the generator and, for snapshots, D come from it
    G = generator_from_checkpoint(checkpoint, device=device)
    extractor = None
    if features and "discriminator_config" in checkpoint.meta:
        extractor = load_discriminator_features(checkpoint, device)
    return InversionModels(path, G, extractor)
