"""`run_inversion`: photo -> latent (+ camera) -> optional pivotal tuning, reporting every step to a callback.

Thread-friendly: it touches no global state, reports through the callback (which may return False to stop)
and checks an optional `threading.Event` between steps, so a GUI can run it in a worker thread and cancel it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import torch

from next3d.errors import BadInputError
from next3d.invert.camera_fit import OrbitCamera, coarse_camera_search
from next3d.invert.d_features import DiscriminatorFeatures
from next3d.invert.image_input import TargetImage
from next3d.invert.latent_fit import fit_latent
from next3d.invert.latent_init import (
    LatentStart,
    average_start,
    prior_start,
    random_start,
)
from next3d.invert.latent_params import LatentParams, latent_statistics
from next3d.invert.losses import psnr_value
from next3d.invert.objective import ReconstructionLoss
from next3d.invert.pivotal_tuning import pivotal_tuning
from next3d.invert.result import InversionResult
from next3d.invert.session import InversionSession, ProgressCallback, ProgressReporter
from next3d.invert.settings import InversionSettings

FLAT_MARGIN_DB = 0.5  # a fit must beat a flat colour by this much to count as having found a foreground


def run_inversion(G: torch.nn.Module, target: TargetImage, settings: InversionSettings | None = None, *,
                  camera: OrbitCamera | None = None, features: DiscriminatorFeatures | None = None,
                  prior: str | Path | None = None, start_ws: torch.Tensor | None = None,
                  callback: ProgressCallback | None = None, cancel: threading.Event | None = None) -> InversionResult:
    """Invert `target` into `G` (on G's device; G itself is never modified).

    camera: the photo's camera (kept fixed unless settings.fit_camera is True); None: coarse search + fit.
    features: discriminator feature loss (see d_features.load_discriminator_features); None: pixel losses only.
    prior: a diffusion prior checkpoint, required when settings.init == "prior".
    start_ws: (1, num_ws, w_dim) latents to start from (e.g. the one on screen) instead of settings.init.
    callback(InversionProgress) after every step; returning False (or setting `cancel`) stops early with
    result.cancelled = True and the latent reached so far."""
    from next3d.head import HeadParams
    from next3d.networks.generator import RenderOptions

    s = (settings or InversionSettings()).validate()
    if s.init == "prior" and prior is None:
        raise BadInputError("init 'prior' needs a diffusion prior checkpoint (--prior RUN)")
    device = next(G.parameters()).device
    target = target.to(device)
    if tuple(target.image.shape[-2:]) != (G.img_resolution, G.img_resolution):
        raise BadInputError(f"target image {target.source}: {tuple(target.image.shape[-2:])}, the generator "
                            f"renders {G.img_resolution}x{G.img_resolution}")
    grad_flags = [p.requires_grad for p in G.parameters()]
    G.requires_grad_(False)
    try:
        session = InversionSession(
            G=G, target=target, head=HeadParams.neutral(G.head, device=device),
            options=RenderOptions(neural_rendering_resolution=s.neural_rendering_resolution, noise_mode="const"),
            objective=ReconstructionLoss(s, features), settings=s,
            reporter=ProgressReporter(callback, cancel), device=device)
        if start_ws is not None:
            start_ws = _check_start(start_ws, G).to(device)
        return _invert(session, camera, prior, start_ws)
    finally:
        for p, flag in zip(G.parameters(), grad_flags):
            p.requires_grad_(flag)


def _check_start(ws: torch.Tensor, G) -> torch.Tensor:
    ws = torch.as_tensor(ws, dtype=torch.float32)
    ws = ws[None] if ws.ndim == 2 else ws
    if tuple(ws.shape) != (1, G.num_ws, G.w_dim):
        raise BadInputError(f"start latent: shape {tuple(ws.shape)}, the generator needs (1, {G.num_ws}, {G.w_dim})")
    if not torch.isfinite(ws).all():
        raise BadInputError("start latent: contains NaN or Inf")
    return ws


def _invert(session: InversionSession, camera: OrbitCamera | None, prior, start_ws) -> InversionResult:
    s, G, device = session.settings, session.G, session.device
    seconds: dict[str, float] = {}
    steps: dict[str, int] = {}
    clock = _Clock(device)
    c_cond = OrbitCamera().label(device)  # frontal conditioning pose, EG3D's convention for generation
    stats = latent_statistics(G, c_cond, s.stats_samples, s.seed)
    start = average_start(G, stats) if start_ws is None else LatentStart(start_ws.clone(), "given latent", [])
    seconds["prepare"] = clock.lap()

    camera_given = camera is not None
    search: list[dict] = []
    if camera is None:
        camera, search = _search_camera(session, start.ws)
        steps["camera_search"] = len(search)
        seconds["camera_search"] = clock.lap()
    fit_camera = (not camera_given) if s.fit_camera is None else s.fit_camera
    label = camera.label(device)

    searching_init = start_ws is None and not session.reporter.stopped
    if searching_init and s.init == "random":
        start = random_start(session, label, c_cond, s.init_candidates, s.seed)
    elif searching_init and s.init == "prior":
        start = prior_start(session, label, prior)
    seconds["init"] = clock.lap()

    with torch.no_grad():
        before = session.render(start.ws, label)
    latent = LatentParams(start.ws, stats, s.latent_space).to(device)
    fit = fit_latent(session, latent, camera, fit_camera) if not session.reporter.stopped else None
    ws, camera = (fit.ws, fit.camera) if fit is not None else (start.ws, camera)
    steps["latent"] = fit.steps if fit is not None else 0
    seconds["latent"] = clock.lap()
    label = camera.label(device)
    with torch.no_grad():
        after_latent = session.render(ws, label)

    tuned = None
    if s.pti_steps > 0 and not session.reporter.stopped:
        tuned = pivotal_tuning(session, ws, camera, c_cond)
        steps["pti"] = tuned.steps
        seconds["pti"] = clock.lap()
    with torch.no_grad():
        after = session.render(ws, label, G=tuned.G) if tuned is not None else after_latent

    return _result(session, ws, camera, camera_given, before, after_latent, after, steps, seconds, start,
                   tuned.G if tuned is not None else None, search)


def _search_camera(session: InversionSession, ws: torch.Tensor):
    """Coarse yaw/pitch grid at the starting latent, each candidate reported to the callback."""
    s = session.settings
    total = len(s.yaw_candidates) * len(s.pitch_candidates)
    done = []

    @torch.no_grad()
    def loss_of(camera: OrbitCamera) -> float:
        image = session.render(ws, camera.label(session.device))
        loss = float(session.loss(image)[0][0])
        done.append(camera)
        session.reporter.report("camera_search", len(done), total, loss, session.psnr(image), camera, image)
        return loss

    return coarse_camera_search(loss_of, s.yaw_candidates, s.pitch_candidates, OrbitCamera())


def _result(session, ws, camera, camera_given, before, after_latent, after, steps, seconds, start: LatentStart,
            tuned, search) -> InversionResult:
    from next3d.capture.images import signed_to_uint8

    target, mask = session.target.image, session.target.mask
    result = InversionResult(
        ws=ws.detach().cpu().float(), camera=camera, label=camera.label("cpu"), camera_given=camera_given,
        target=signed_to_uint8(target[0]), before=signed_to_uint8(before[0]),
        after_latent=signed_to_uint8(after_latent[0]), after=signed_to_uint8(after[0]),
        psnr_before=session.psnr(before), psnr_latent=session.psnr(after_latent), psnr_after=session.psnr(after),
        steps=steps, seconds=seconds, feature_loss=session.objective.description, init=start.description,
        init_losses=start.candidate_losses,
        tuned_generator=tuned, history=session.reporter.history, camera_search=search,
        notes=list(session.target.notes), cancelled=session.reporter.stopped)
    flat = (target * mask).sum((2, 3), keepdim=True) / mask.sum((2, 3), keepdim=True).clamp_min(1e-8)
    flat_psnr = psnr_value(flat.expand_as(target), target, mask)
    if not result.cancelled and result.psnr_after < flat_psnr + FLAT_MARGIN_DB:
        result.warnings.append(
            f"no head-like foreground found: the fitted render ({result.psnr_after:.1f} dB) is no closer to the "
            f"photo than a flat colour ({flat_psnr:.1f} dB); check the crop (face centred) and the mask")
    return result


class _Clock:
    """Wall time between laps (synchronizing CUDA so the GPU's work is counted)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.last = time.perf_counter()

    def lap(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        return elapsed
