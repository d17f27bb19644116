"""Two-pass importance volume rendering (EG3D's scheme): stratified samples, then samples drawn from the
coarse weights, both marched together with mid-point quadrature.

The radiance field is any callable `field(points (B, N, 3), dirs (B, N, 3)) -> (sigma (B, N, 1), features
(B, N, C))`; sigma is the raw density (before `softplus(sigma - 1)`), features are in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

Field = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class RenderSettings:
    """How rays are sampled and composited (defaults: EG3D/Next3D FFHQ)."""

    ray_start: float = 2.25
    ray_end: float = 3.3
    box_warp: float = 1.0
    samples: int = 48  # stratified samples per ray
    importance_samples: int = 48  # samples drawn from the coarse weights
    density_bias: float = -1.0  # density = softplus(sigma + density_bias)
    white_back: bool = False
    perturb: bool = False  # random jitter/pdf samples (training); deterministic when False


@dataclass
class RayOutput:
    """Composited per-ray results."""

    features: torch.Tensor  # (B, R, C) in [-1, 1] (composite*2 - 1, EG3D's convention)
    depth: torch.Tensor  # (B, R, 1) expected ray depth, world units
    weight_sum: torch.Tensor  # (B, R, 1) accumulated opacity in [0, 1]


def stratified_depths(batch: int, rays: int, settings: RenderSettings, device, generator=None) -> torch.Tensor:
    """Evenly spaced depths in [ray_start, ray_end], jittered within a bin when `perturb`: (B, R, S, 1)."""
    n = settings.samples
    depths = torch.linspace(settings.ray_start, settings.ray_end, n, device=device)
    depths = depths.reshape(1, 1, n, 1).expand(batch, rays, n, 1)
    if settings.perturb:
        step = (settings.ray_end - settings.ray_start) / (n - 1)
        depths = depths + torch.rand(depths.shape, device=device, generator=generator) * step
    return depths


def march(sigma: torch.Tensor, features: torch.Tensor, depths: torch.Tensor, settings: RenderSettings
          ) -> tuple[RayOutput, torch.Tensor]:
    """Mid-point quadrature along sorted samples (B, R, S, *): the composite and per-interval weights (B, R, S-1, 1)."""
    deltas = depths[:, :, 1:] - depths[:, :, :-1]
    feat_mid = (features[:, :, :-1] + features[:, :, 1:]) * 0.5
    sigma_mid = (sigma[:, :, :-1] + sigma[:, :, 1:]) * 0.5
    depth_mid = (depths[:, :, :-1] + depths[:, :, 1:]) * 0.5
    density = F.softplus(sigma_mid + settings.density_bias)
    alpha = 1.0 - torch.exp(-density * deltas)
    transmittance = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :, :1]), 1.0 - alpha + 1e-10], dim=2), dim=2)
    weights = alpha * transmittance[:, :, :-1]
    weight_sum = weights.sum(dim=2)
    composite = (weights * feat_mid).sum(dim=2)
    depth = (weights * depth_mid).sum(dim=2) / weight_sum
    depth = torch.nan_to_num(depth, nan=float("inf")).clamp(depths.amin(), depths.amax())
    if settings.white_back:
        composite = composite + 1.0 - weight_sum
    return RayOutput(composite * 2.0 - 1.0, depth, weight_sum), weights


def importance_depths(depths: torch.Tensor, weights: torch.Tensor, n_samples: int, perturb: bool,
                      generator=None) -> torch.Tensor:
    """Draw depths (B, R, n, 1) from the piecewise-constant pdf of smoothed coarse weights over the coarse bins.

    Weights are max-filtered then box-filtered (so thin surfaces get neighbours) plus a floor of 0.01, as in
    EG3D; deterministic (evenly spaced quantiles) unless `perturb`.
    """
    batch, rays, n_coarse, _ = depths.shape
    w = weights.reshape(batch * rays, 1, n_coarse - 1)
    w = F.max_pool1d(F.pad(w, (1, 1), mode="replicate"), 2, 1)  # (BR, 1, S)
    w = F.avg_pool1d(w, 2, 1).reshape(batch * rays, n_coarse - 1) + 0.01
    edges = depths.reshape(batch * rays, n_coarse).detach()
    pdf = w / w.sum(dim=-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, dim=-1)], dim=-1).clamp(max=1.0)
    if perturb:
        u = torch.rand(batch * rays, n_samples, device=depths.device, generator=generator)
    else:
        u = ((torch.arange(n_samples, device=depths.device) + 0.5) / n_samples).expand(batch * rays, n_samples)
    u = u.contiguous()
    upper = torch.searchsorted(cdf, u, right=True).clamp(1, n_coarse - 1)
    lower = upper - 1
    cdf_lo, cdf_hi = cdf.gather(1, lower), cdf.gather(1, upper)
    edge_lo, edge_hi = edges.gather(1, lower), edges.gather(1, upper)
    t = ((u - cdf_lo) / (cdf_hi - cdf_lo).clamp_min(1e-8)).clamp(0.0, 1.0)
    samples = edge_lo + t * (edge_hi - edge_lo)
    return samples.reshape(batch, rays, n_samples, 1).detach()


def render_rays(field: Field, origins: torch.Tensor, dirs: torch.Tensor, settings: RenderSettings,
                generator=None) -> RayOutput:
    """Render rays (B, R, 3) through `field` with stratified + importance sampling."""
    batch, rays, _ = origins.shape

    def evaluate(depths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = depths.shape[2]
        points = (origins[:, :, None] + depths * dirs[:, :, None]).reshape(batch, rays * n, 3)
        ray_dirs = dirs[:, :, None].expand(batch, rays, n, 3).reshape(batch, rays * n, 3)
        sigma, feats = field(points, ray_dirs)
        return sigma.reshape(batch, rays, n, 1), feats.reshape(batch, rays, n, -1)

    coarse_depths = stratified_depths(batch, rays, settings, origins.device, generator)
    coarse_sigma, coarse_feats = evaluate(coarse_depths)
    coarse_out, coarse_weights = march(coarse_sigma, coarse_feats, coarse_depths, settings)
    if settings.importance_samples <= 0:
        return coarse_out
    fine_depths = importance_depths(coarse_depths, coarse_weights, settings.importance_samples,
                                    settings.perturb, generator)
    fine_sigma, fine_feats = evaluate(fine_depths)

    all_depths = torch.cat([coarse_depths, fine_depths], dim=2)
    all_depths, order = torch.sort(all_depths, dim=2)
    all_sigma = torch.cat([coarse_sigma, fine_sigma], dim=2).gather(2, order)
    all_feats = torch.cat([coarse_feats, fine_feats], dim=2)
    all_feats = all_feats.gather(2, order.expand(-1, -1, -1, all_feats.shape[-1]))
    return march(all_sigma, all_feats, all_depths, settings)[0]
