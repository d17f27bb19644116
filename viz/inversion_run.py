"""The Invert action's work, off the GUI thread: read the photo, fit a latent (and camera, and optionally a tuned
generator copy) with `run_inversion`, publishing every step's picture for the canvas."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from next3d.capture.memory_models import MEMORY_PREFIX, MemoryModel, pack_generator
from next3d.capture.render_args import BUILTIN_PREFIX, RenderArgs
from next3d.invert.camera_fit import OrbitCamera
from next3d.invert.result import InversionResult
from next3d.invert.settings import InversionSettings

PHASE_LABELS = {"prepare": "preparing", "camera_search": "camera search", "init": "choosing a start",
                "latent": "fitting the latent", "pti": "pivotal tuning"}


@dataclass(frozen=True)
class InvertRequest:
    """One inversion: the photo (and optional mask file), settings, the camera when known, the model to fit,
    and the view whose latent starts the fit (None: the mean latent)."""

    photo: str
    mask: str | None
    settings: InversionSettings
    camera: OrbitCamera | None
    checkpoint: str
    start_from: RenderArgs | None = None
    tuned_name: str = "tuned"


@dataclass
class InvertOutcome:
    """The inversion's result, the photo's notes (crop, resize), and the tuned generator packed for the renderer."""

    result: InversionResult
    request: InvertRequest
    notes: list[str]
    tuned: MemoryModel | None = None


def run_invert(job, request: InvertRequest, models, device: torch.device) -> InvertOutcome:
    """Fit `request.photo`; `job` (a BackgroundJob) gets progress, each step's picture in `latest`, and cancels."""
    from next3d.capture.renderer import Renderer
    from next3d.invert.image_input import load_target
    from next3d.invert.pipeline import run_inversion

    job.progress(0, 1, "reading the photo")
    G = models.get(request.checkpoint, device).generator
    target = load_target(request.photo, int(G.img_resolution), request.mask)
    features = _discriminator_features(request.checkpoint, device)
    start_ws = None
    if request.start_from is not None:
        start_ws = Renderer(models=models).latent_of(request.start_from.with_(checkpoint=request.checkpoint))

    def on_step(progress) -> bool:
        phase = PHASE_LABELS.get(progress.phase, progress.phase)
        job.progress(progress.step, progress.steps,
                     f"{phase} {progress.step}/{progress.steps}, PSNR {progress.psnr:.1f} dB")
        if progress.image is not None:
            job.latest = progress
        return not job.cancelled

    result = run_inversion(G, target, request.settings, camera=request.camera, features=features,
                           start_ws=start_ws, callback=on_step, cancel=job.cancel_event)
    tuned = None
    if result.tuned_generator is not None and not result.cancelled:
        job.progress(job.total, job.total, "handing the tuned generator to the renderer")
        steps = result.steps.get("pti", 0)
        description = (f"tuned copy (PTI, {steps} steps) of {Path(request.checkpoint).name} for "
                       f"{Path(request.photo).name}")
        source = {"source_checkpoint": request.checkpoint, "photo": request.photo, "pti_steps": steps}
        tuned = pack_generator(result.tuned_generator, request.tuned_name, description, inversion=source)
    return InvertOutcome(result, request, list(target.notes), tuned)


def _discriminator_features(checkpoint: str, device: torch.device):
    """D-feature loss of a training snapshot (checkpoints holding D), else None (pixel losses only)."""
    from next3d.invert.d_features import load_discriminator_features
    from next3d.io.checkpoint import load_checkpoint, read_meta, resolve_checkpoint

    if checkpoint.startswith((BUILTIN_PREFIX, MEMORY_PREFIX)):
        return None
    path = resolve_checkpoint(checkpoint)
    if "discriminator_config" not in read_meta(path):
        return None
    return load_discriminator_features(load_checkpoint(path), device)
