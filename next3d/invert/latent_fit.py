"""Phase 2: fit the latent (W or W+) and, when no camera was given, the orbit camera, to the masked target."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from next3d.invert.camera_fit import CameraParams, OrbitCamera
from next3d.invert.latent_params import LatentParams
from next3d.invert.schedule import lr_factor
from next3d.invert.session import InversionSession


@dataclass
class LatentFit:
    """Outcome of the latent phase: latents (1, num_ws, w_dim) detached, camera, steps done, last loss."""

    ws: torch.Tensor
    camera: OrbitCamera
    steps: int
    loss: float
    cancelled: bool


def fit_latent(session: InversionSession, latent: LatentParams, camera: OrbitCamera,
               fit_camera: bool) -> LatentFit:
    """Adam on the latent offset (and yaw/pitch/...) for `settings.steps` steps; reports every step."""
    s = session.settings
    cam = CameraParams(camera, fit_radius=s.fit_radius and fit_camera, fit_roll=s.fit_roll and fit_camera)
    cam = cam.to(session.device)
    groups = [{"params": [latent.offset], "lr": s.lr, "base_lr": s.lr}]
    if fit_camera:
        groups.append({"params": list(cam.parameters()), "lr": s.camera_lr, "base_lr": s.camera_lr})
    optimizer = torch.optim.Adam(groups, betas=(0.9, 0.999))
    loss_value, done = float("nan"), 0
    for step in range(s.steps):
        factor = lr_factor(step, s.steps)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        label = cam.label() if fit_camera else cam.label().detach()
        image = session.render(latent.ws(), label)
        recon, _ = session.loss(image)
        loss = recon.mean() + latent.regularization(s.w_avg_weight, s.rows_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_value, done = float(loss.detach()), step + 1
        if not session.reporter.report("latent", done, s.steps, loss_value, session.psnr(image), cam.current(),
                                       image.detach()):
            break
    return LatentFit(latent.ws().detach().clone(), cam.current(), done, loss_value, session.reporter.stopped)
