"""What an inversion does and how hard it tries: `InversionSettings` (validated, frozen)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from next3d.errors import BadInputError

LATENT_SPACES = ("w", "w+")
INIT_MODES = ("w_avg", "random", "prior")


@dataclass(frozen=True)
class InversionSettings:
    """Steps, learning rates and loss weights of the three phases (camera search, latent fit, pivotal tuning)."""

    latent_space: str = "w+"           # "w": one row broadcast to all num_ws rows; "w+": every row free
    steps: int = 300                   # latent (and camera) optimisation steps
    lr: float = 0.02                   # Adam, in units of the mapping's w spread (latents are optimised scaled)
    camera_lr: float = 0.02            # Adam on yaw/pitch (radians)
    fit_camera: bool | None = None     # None: optimise the camera only when none is given
    fit_radius: bool = False
    fit_roll: bool = False
    yaw_candidates: tuple[float, ...] = (-0.6, -0.3, 0.0, 0.3, 0.6)   # coarse search grid (radians)
    pitch_candidates: tuple[float, ...] = (-0.2, 0.0, 0.2)
    init: str = "w_avg"                # "w_avg" | "random" (best of K mapped samples) | "prior" (diffusion prior)
    init_candidates: int = 8           # K for "random" / "prior"
    prior_steps: int = 50              # sampler steps for "prior"
    prior_guidance: float = 1.0        # image-space guidance scale for "prior" (0: condition only)
    pixel_weight: float = 1.0          # multi-scale L1 inside the mask
    gradient_weight: float = 1.0       # multi-scale image-gradient (edge) L1 inside the mask
    feature_weight: float = 0.5        # discriminator features (used when the checkpoint holds a D)
    pyramid_levels: int = 4
    w_avg_weight: float = 1e-3         # pull toward w_avg, per element in units of the w spread
    rows_weight: float = 1e-2          # pull W+ rows toward their mean (the mapping makes all rows equal)
    pti_steps: int = 0                 # pivotal tuning steps (0: off)
    pti_lr: float = 1e-4
    locality_weight: float = 1.0       # PTI: nearby latents keep rendering like the original generator
    locality_every: int = 4            # PTI: one locality render every this many steps
    locality_mix: float = 0.3          # PTI: nearby latent = pivot + mix * (random w - pivot)
    stats_samples: int = 512           # mapped samples for the w spread (and w_avg when it was never tracked)
    neural_rendering_resolution: int | None = None  # None: the generator's own
    seed: int = 0

    def validate(self) -> InversionSettings:
        """Raise BadInputError naming the first unusable value; returns self."""
        if self.latent_space not in LATENT_SPACES:
            raise BadInputError(f"latent space {self.latent_space!r}: expected one of {', '.join(LATENT_SPACES)}")
        if self.init not in INIT_MODES:
            raise BadInputError(f"init {self.init!r}: expected one of {', '.join(INIT_MODES)}")
        for name in ("steps", "pti_steps", "prior_steps", "seed"):
            if getattr(self, name) < 0:
                raise BadInputError(f"{name} = {getattr(self, name)}: must be >= 0")
        for name in ("init_candidates", "locality_every", "pyramid_levels", "stats_samples"):
            if getattr(self, name) < 1:
                raise BadInputError(f"{name} = {getattr(self, name)}: must be >= 1")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not (math.isfinite(value) and value >= 0):
                raise BadInputError(f"{f.name} = {value}: must be a finite number >= 0")
        if not self.yaw_candidates or not self.pitch_candidates:
            raise BadInputError("the coarse camera search needs at least one yaw and one pitch candidate")
        if not all(math.isfinite(v) for v in self.yaw_candidates + self.pitch_candidates):
            raise BadInputError("camera search candidates must be finite numbers (radians)")
        if self.neural_rendering_resolution is not None and self.neural_rendering_resolution < 4:
            raise BadInputError(f"neural rendering resolution {self.neural_rendering_resolution}: must be >= 4")
        return self

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
