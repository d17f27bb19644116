"""Phase 1b: the starting latent: w_avg, the best of K mapped random samples, or the best of K samples of the
diffusion prior conditioned on (and guided toward) the photo. "Best" = lowest objective at the start camera."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from next3d.errors import BadInputError
from next3d.invert.latent_params import LatentStatistics
from next3d.invert.session import InversionSession


@dataclass
class LatentStart:
    """The starting latents (1, num_ws, w_dim), how they were chosen, and the candidates' losses."""

    ws: torch.Tensor
    description: str
    candidate_losses: list[float]


def average_start(G, stats: LatentStatistics) -> LatentStart:
    """w_avg in every row."""
    how = "w_avg" if stats.tracked else "w_avg (estimated from mapped samples: the checkpoint's average is unset)"
    return LatentStart(stats.w_avg.reshape(1, 1, -1).expand(1, G.num_ws, -1).clone(), how, [])


@torch.no_grad()
def random_start(session: InversionSession, label: torch.Tensor, c_cond: torch.Tensor, count: int,
                 seed: int) -> LatentStart:
    """Map `count` seeded z (conditioned on `c_cond`), keep the one whose render is closest to the target."""
    G = session.G
    z = torch.randn(count, G.z_dim, generator=torch.Generator().manual_seed(seed)).to(session.device)
    ws = G.mapping(z, c_cond.expand(count, -1))
    return _best_of(session, ws, label, f"best of {count} mapped random samples (seed {seed})")


@torch.no_grad()
def prior_start(session: InversionSession, label: torch.Tensor, prior_path: str | Path) -> LatentStart:
    """Sample K W+ latents from the diffusion prior, conditioned on the masked photo when the prior is
    conditional and guided through the generator toward it; keep the best."""
    from next3d.diffusion import (
        ImageCondition,
        ImageGuidance,
        LatentCodec,
        LatentDiffusionPipeline,
        load_prior,
    )

    G, s = session.G, session.settings
    prior = load_prior(prior_path, device=session.device)
    codec = LatentCodec(G, "wplus")
    if prior.cfg.latent_field != "wplus" or tuple(prior.cfg.latent_shape) != codec.shape:
        raise BadInputError(f"prior {prior_path}: models '{prior.cfg.latent_field}' latents of shape "
                            f"{tuple(prior.cfg.latent_shape)}; inversion needs a W+ prior ('wplus', {codec.shape})")
    image, mask = session.target.image, session.target.mask
    pipeline = LatentDiffusionPipeline(prior, render_fn=codec.render_fn(label, session.head, session.options))
    condition = ImageCondition(image * mask, mask) if prior.conditional else None
    guidance = None
    if s.prior_guidance > 0:
        guidance = ImageGuidance(target=image, mask=mask, scale=s.prior_guidance, resolution=G.img_resolution,
                                 wrt="x0")
    sampled = pipeline(s.init_candidates, steps=s.prior_steps, seed=s.seed, condition=condition, guidance=guidance)
    how = (f"best of {s.init_candidates} diffusion-prior samples ({s.prior_steps} steps"
           f"{', image-conditioned' if condition is not None else ''}"
           f"{f', guidance {s.prior_guidance:g}' if guidance is not None else ''}; {prior_path})")
    return _best_of(session, sampled.latents.to(session.device, torch.float32), label, how)


def _best_of(session: InversionSession, ws: torch.Tensor, label: torch.Tensor, how: str) -> LatentStart:
    losses = []
    for i in range(ws.shape[0]):  # one at a time: memory stays that of a single render
        loss, _ = session.loss(session.render(ws[i:i + 1], label))
        losses.append(float(loss[0]))
    best = min(range(len(losses)), key=losses.__getitem__)
    return LatentStart(ws[best:best + 1].clone(), f"{how}: candidate {best}", losses)
