"""What every phase of an inversion shares: the generator, the target, the head state, render options, the
objective, and the progress reporter (callback, cancellation, per-step history)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from next3d.invert.camera_fit import OrbitCamera
from next3d.invert.image_input import TargetImage
from next3d.invert.losses import psnr_value
from next3d.invert.objective import ReconstructionLoss
from next3d.invert.result import InversionProgress
from next3d.invert.settings import InversionSettings

if TYPE_CHECKING:
    from next3d.head import HeadParams
    from next3d.networks.generator import RenderOptions

ProgressCallback = Callable[[InversionProgress], "bool | None"]  # returning False stops the inversion


@dataclass
class ProgressReporter:
    """Calls `callback` after every step with the current picture; stops when it returns False or `cancel` is set."""

    callback: ProgressCallback | None = None
    cancel: threading.Event | None = None
    history: list[dict] = field(default_factory=list)
    stopped: bool = False

    def report(self, phase: str, step: int, steps: int, loss: float, psnr: float, camera: OrbitCamera,
               image: torch.Tensor | None) -> bool:
        """Record the step; True while the inversion should go on."""
        from next3d.capture.images import signed_to_uint8

        self.history.append({"phase": phase, "step": step, "steps": steps, "loss": loss, "psnr": psnr,
                             "yaw": camera.yaw, "pitch": camera.pitch})
        if self.callback is not None:
            picture = None if image is None else signed_to_uint8(image[0])
            if self.callback(InversionProgress(phase, step, steps, loss, psnr, camera, picture)) is False:
                self.stopped = True
        if self.cancel is not None and self.cancel.is_set():
            self.stopped = True
        return not self.stopped


@dataclass
class InversionSession:
    """One inversion's fixed inputs; `render` and `loss` are what every phase calls."""

    G: torch.nn.Module
    target: TargetImage                  # on `device`
    head: HeadParams                     # batch 1, for G.head
    options: RenderOptions
    objective: ReconstructionLoss
    settings: InversionSettings
    reporter: ProgressReporter
    device: torch.device

    def render(self, ws: torch.Tensor, label: torch.Tensor, G: torch.nn.Module | None = None) -> torch.Tensor:
        """Image (B, 3, H, W) of latents (B, num_ws, w_dim) from cameras (B, 25) with the session's head state."""
        G = self.G if G is None else G
        return G.synthesis(ws, label.expand(ws.shape[0], -1), self.head.expand(ws.shape[0]), self.options).image

    def loss(self, image: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Objective of rendered images against the target (per sample)."""
        return self.objective(image, self.target.image, self.target.mask)

    def psnr(self, image: torch.Tensor) -> float:
        return psnr_value(image, self.target.image, self.target.mask)
