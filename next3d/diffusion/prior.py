"""The latent prior: denoiser + optional condition encoder + latent normalizer, and its checkpoint files.

A prior snapshot (kind "prior") holds modules "prior" (trained weights), "prior_ema" (EMA weights, used for
sampling) and "optimizer" (Adam state), with the PriorConfig and training state in the JSON header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from next3d.diffusion.denoiser import DenoiserConfig, LatentDenoiser
from next3d.diffusion.image_encoder import ImageEncoderConfig, MaskedImageEncoder
from next3d.diffusion.normalization import LatentNormalizer
from next3d.diffusion.schedule import NUM_TRAIN_TIMESTEPS
from next3d.errors import BadInputError
from next3d.io.checkpoint import load_checkpoint, load_state_strict

PRIOR_KIND = "prior"


@dataclass(frozen=True)
class PriorConfig:
    """Everything needed to rebuild a prior: which latent, its normalization, the networks' sizes."""

    latent_field: str                      # the store field it models: "wplus" (num_ws, w_dim) or "style"
    normalization: str                     # "minmax" | "meanstd"
    denoiser: DenoiserConfig
    encoder: ImageEncoderConfig | None = None   # None: unconditional
    num_train_timesteps: int = NUM_TRAIN_TIMESTEPS
    source: dict = field(default_factory=dict)  # the latent store's source (generator checkpoint, hash, preset)

    @property
    def latent_shape(self) -> tuple[int, int]:
        return self.denoiser.seq_len, self.denoiser.token_dim

    def to_dict(self) -> dict:
        return {"latent_field": self.latent_field, "normalization": self.normalization,
                "denoiser": self.denoiser.to_dict(), "encoder": self.encoder.to_dict() if self.encoder else None,
                "num_train_timesteps": self.num_train_timesteps, "source": self.source}

    @staticmethod
    def from_dict(d: dict) -> PriorConfig:
        return PriorConfig(d["latent_field"], d["normalization"], DenoiserConfig.from_dict(d["denoiser"]),
                           ImageEncoderConfig.from_dict(d["encoder"]) if d.get("encoder") else None,
                           int(d.get("num_train_timesteps", NUM_TRAIN_TIMESTEPS)), dict(d.get("source", {})))


class LatentPrior(nn.Module):
    """The trainable parts of the prior and the normalizer that maps raw latents to its working space."""

    def __init__(self, cfg: PriorConfig, normalizer: LatentNormalizer | None = None):
        super().__init__()
        self.cfg = cfg
        self.denoiser = LatentDenoiser(cfg.denoiser)
        self.encoder = MaskedImageEncoder(cfg.encoder) if cfg.encoder else None
        self.normalizer = normalizer or LatentNormalizer.empty(cfg.latent_shape, cfg.normalization)

    @property
    def conditional(self) -> bool:
        return self.encoder is not None

    def predict_v(self, x_t: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.denoiser(x_t, t, context)

    def encode_condition(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.encoder is None:
            raise BadInputError("this prior was trained without image conditioning; "
                                "sample it without a condition image")
        return self.encoder(image, mask)

    def null_condition(self, batch: int) -> torch.Tensor | None:
        return self.encoder.null(batch) if self.encoder is not None else None


def load_prior(path: str | Path, which: str = "prior_ema", device: torch.device | str = "cpu") -> LatentPrior:
    """A prior from a snapshot file or a run directory (its latest snapshot), in eval mode, without gradients."""
    ckpt = load_checkpoint(path)
    if ckpt.meta.get("kind") != PRIOR_KIND:
        raise BadInputError(f"{ckpt.path}: a '{ckpt.meta.get('kind')}' checkpoint, not a diffusion prior "
                            "(train one with `python -m next3d train-diffusion`)")
    try:
        cfg = PriorConfig.from_dict(ckpt.meta["prior_config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInputError(f"{ckpt.path}: malformed prior config ({type(exc).__name__}: {exc})") from None
    prior = LatentPrior(cfg)
    load_state_strict(prior, ckpt.module_state(which), f"{ckpt.path} ({which})")
    return prior.to(device).eval().requires_grad_(False)
