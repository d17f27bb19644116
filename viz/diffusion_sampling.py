"""The Diffusion widget's work, off the GUI thread: sample candidate latents from a prior (optionally guided
toward a target picture through the generator) and render a small thumbnail of each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from next3d.capture.render_args import RenderArgs
from next3d.capture.renderer import camera_label_for, head_params_for

THUMBNAIL_NEURAL_RES = 32  # neural rendering resolution of the candidate thumbnails (at most the model's own)


@dataclass(frozen=True)
class SamplingSettings:
    """How many candidates, DDIM steps and stochasticity, first seed (candidate i uses seed + i), CFG scale."""

    count: int = 4
    steps: int = 25
    seed: int = 0
    eta: float = 0.0
    cfg_scale: float = 1.0


@dataclass(frozen=True)
class GuidanceTarget:
    """Image guidance: target (H, W, 3) uint8, mask (h, w) float32 in [0, 1] or None (the whole picture),
    rendered from `view`'s camera and head state; `condition` also feeds it to a conditional prior."""

    image: np.ndarray
    mask: np.ndarray | None
    view: RenderArgs
    scale: float = 5.0
    resolution: int = 64
    wrt: str = "x_t"
    condition: bool = False


@dataclass
class Candidates:
    """Sampled raw latents (n, L, D) of `kind`, their seeds, one thumbnail (H, W, 3) uint8 each, and the
    guidance loss of each candidate at the last step (None without guidance)."""

    latents: np.ndarray
    kind: str
    seeds: list[int]
    thumbnails: list[np.ndarray]
    losses: list[float] | None = None

    @property
    def guided(self) -> bool:
        return self.losses is not None


def sample_candidates(job, G, prior, view: RenderArgs, settings: SamplingSettings,
                      guidance: GuidanceTarget | None) -> Candidates | None:
    """Run the sampler with progress on `job` (a BackgroundJob); None when cancelled."""
    from next3d.capture.images import signed_to_uint8
    from next3d.diffusion import (
        ImageCondition,
        ImageGuidance,
        LatentCodec,
        LatentDiffusionPipeline,
    )
    from next3d.networks.generator import RenderOptions

    device = prior.normalizer.center.device
    codec = LatentCodec(G, prior.cfg.latent_field)
    render_view = guidance.view if guidance is not None else view
    options = RenderOptions(neural_rendering_resolution=render_view.neural_res)
    camera = camera_label_for(render_view, device)
    head = head_params_for(G, render_view, device)
    pipe = LatentDiffusionPipeline(prior, codec.render_fn(camera, head, options))
    image_guidance, condition = None, None
    if guidance is not None:
        target = _signed(guidance.image).to(device)
        mask = None if guidance.mask is None else torch.from_numpy(guidance.mask.astype(np.float32))[None, None]
        mask = None if mask is None else mask.to(device)
        if guidance.scale > 0:
            image_guidance = ImageGuidance(target, mask, guidance.scale, guidance.resolution, guidance.wrt)
        if guidance.condition and prior.conditional:
            condition = ImageCondition(target, mask)
    steps, count = settings.steps, settings.count
    total = steps + count

    def on_step(progress) -> bool:
        job.progress(progress.step, total, f"step {progress.step}/{progress.steps}")
        return not job.cancelled

    result = pipe(count, steps=steps, eta=settings.eta, cfg_scale=settings.cfg_scale, seed=settings.seed,
                  condition=condition, guidance=image_guidance, callback=on_step)
    if result.cancelled:
        return None
    losses = [float(v) for v in result.guidance_losses[-1].tolist()] if result.guidance_losses else None
    thumb_options = RenderOptions(neural_rendering_resolution=min(THUMBNAIL_NEURAL_RES,
                                                                  int(G.config.neural_rendering_resolution)))
    thumbnails = []
    for i in range(count):
        if job.cancelled:
            return None
        job.progress(steps + i, total, f"rendering candidate {i + 1}/{count}")
        with torch.no_grad():
            image = codec.render(result.latents[i:i + 1], camera, head, thumb_options).image
        thumbnails.append(signed_to_uint8(image[0]))
    job.progress(total, total, "done")
    return Candidates(result.latents.detach().cpu().numpy().astype(np.float32), prior.cfg.latent_field,
                      list(result.seeds), thumbnails, losses)


def _signed(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image[..., :3]).astype(np.float32) / 127.5 - 1.0) \
        .permute(2, 0, 1)[None].contiguous()
