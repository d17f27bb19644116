"""What an inversion reports while it runs (`InversionProgress`, to the callback) and what it returns
(`InversionResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from next3d.invert.camera_fit import OrbitCamera

PHASES = ("prepare", "camera_search", "init", "latent", "pti")


@dataclass(frozen=True)
class InversionProgress:
    """One step of one phase; `image` is the current render (H, W, 3) uint8 (None in 'prepare')."""

    phase: str           # one of PHASES
    step: int            # 1-based within the phase
    steps: int
    loss: float
    psnr: float          # dB inside the mask, of the current render
    camera: OrbitCamera
    image: np.ndarray | None


@dataclass
class InversionResult:
    """The fitted latent and camera, the tuned generator (PTI) if any, pictures and numbers for the report.

    Images are (H, W, 3) uint8; PSNR in dB inside the mask of images as saved (clamped to [-1, 1])."""

    ws: torch.Tensor                       # (1, num_ws, w_dim) float32, CPU
    camera: OrbitCamera
    label: torch.Tensor                    # (1, 25) EG3D label of `camera`, CPU
    camera_given: bool
    target: np.ndarray
    before: np.ndarray                     # render of the initial latent at the initial camera
    after_latent: np.ndarray               # render of the fitted latent with the original generator
    after: np.ndarray                      # final render (the tuned generator's when PTI ran)
    psnr_before: float
    psnr_latent: float
    psnr_after: float
    steps: dict[str, int]                  # steps done per phase
    seconds: dict[str, float]              # wall time per phase
    feature_loss: str                      # which losses were used (for the report)
    init: str                              # how the starting latent was chosen
    init_losses: list[float] = field(default_factory=list)  # objective of each starting candidate (random/prior)
    tuned_generator: torch.nn.Module | None = None
    history: list[dict] = field(default_factory=list)   # one record per step: phase, step, loss, psnr, yaw, pitch
    camera_search: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def w_plus(self) -> np.ndarray:
        """(num_ws, w_dim) float32."""
        return self.ws[0].detach().cpu().numpy().astype(np.float32)
