"""Phase 3 (optional): pivotal tuning. A copy of the generator is fine-tuned so that the fitted latent (the
pivot, frozen) reproduces the photo, while renders of random nearby latents stay close to the original
generator's (locality regularizer). The original generator is never modified."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from next3d.invert.camera_fit import OrbitCamera
from next3d.invert.losses import gradient_loss, pixel_loss
from next3d.invert.schedule import lr_factor
from next3d.invert.session import InversionSession

LOCALITY_YAW, LOCALITY_PITCH = 0.4, 0.15  # radians: nearby views used by the locality regularizer
WARMUP = 0.3  # fraction of the steps: Adam's first full-size step on every weight at once overshoots


@dataclass
class TunedGenerator:
    """The fine-tuned copy (eval mode, no gradients), steps done, last loss."""

    G: torch.nn.Module
    steps: int
    loss: float
    cancelled: bool


def tunable_parameters(G: torch.nn.Module) -> list[torch.nn.Parameter]:
    """Every weight except the mapping network's (the pivot is a w, so the mapping is not used)."""
    return [p for name, p in G.named_parameters() if not name.startswith("backbone.mapping.")]


def pivotal_tuning(session: InversionSession, pivot: torch.Tensor, camera: OrbitCamera,
                   c_cond: torch.Tensor) -> TunedGenerator:
    """Fine-tune a deep copy of session.G for `settings.pti_steps` steps around `pivot` (1, num_ws, w_dim)."""
    s = session.settings
    original = session.G
    tuned = copy.deepcopy(original).train(False)
    tuned.requires_grad_(False)
    params = tunable_parameters(tuned)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params, lr=s.pti_lr)
    label = camera.label(session.device)
    pivot = pivot.detach().to(session.device)
    generator = torch.Generator().manual_seed(s.seed + 1)
    loss_value, done = float("nan"), 0
    for step in range(s.pti_steps):
        for group in optimizer.param_groups:
            group["lr"] = s.pti_lr * lr_factor(step, s.pti_steps, warmup=WARMUP)
        image = session.render(pivot, label, G=tuned)
        recon, _ = session.loss(image)
        loss = recon.mean()
        if s.locality_weight > 0 and step % s.locality_every == 0:
            loss = loss + s.locality_weight * _locality(session, original, tuned, pivot, camera, c_cond, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_value, done = float(loss.detach()), step + 1
        if not session.reporter.report("pti", done, s.pti_steps, loss_value, session.psnr(image), camera,
                                       image.detach()):
            break
    tuned.requires_grad_(False)
    return TunedGenerator(tuned.eval(), done, loss_value, session.reporter.stopped)


def _locality(session: InversionSession, original, tuned, pivot: torch.Tensor, camera: OrbitCamera,
              c_cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Pixel + gradient L1 between the tuned and the original generator at a random nearby latent and view."""
    s = session.settings
    u = torch.rand(3, generator=generator) * 2 - 1
    z = torch.randn(1, original.z_dim, generator=generator).to(session.device)
    with torch.no_grad():
        w_random = original.mapping(z, c_cond)
    nearby = pivot + s.locality_mix * (w_random - pivot)
    view = OrbitCamera(camera.yaw + LOCALITY_YAW * float(u[0]), camera.pitch + LOCALITY_PITCH * float(u[1]),
                       camera.radius, camera.roll, camera.focal, camera.pivot).label(session.device)
    with torch.no_grad():
        reference = session.render(nearby, view, G=original)
    image = session.render(nearby, view, G=tuned)
    everywhere = torch.ones_like(image[:, :1])
    levels = s.pyramid_levels
    return (pixel_loss(image, reference, everywhere, levels) + gradient_loss(image, reference, everywhere, levels)).mean()
