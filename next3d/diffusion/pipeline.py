"""Sampling the prior: DDIM (or DPM-Solver++) with classifier-free guidance, image-space guidance through a
renderer, and inpainting-style replacement of known tokens. The model, the scheduler and this loop are apart.

Per step with timestep t (v-prediction, diffusers scheduler):
    v      = v_null + cfg_scale * (v_cond - v_null)           (just v_cond or v_null without CFG)
    x_prev = scheduler.step(v, t, x_t, eta).prev_sample       (DDIM: posterior mean + sigma_t * noise)
    x_prev = x_prev - guidance.scale * grad                    (grad of the image loss of render(x0_hat(x_t)),
                                                                w.r.t. x_t or x0_hat: ImageGuidance.wrt)
The gradient term shifts the posterior mean (the noise is independent of it). Sample i draws all its noise
from a generator seeded with seed + i, so it is the same whatever n is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from next3d.diffusion.guidance import ImageGuidance, guidance_loss
from next3d.diffusion.prior import LatentPrior
from next3d.diffusion.schedule import SAMPLERS, sampling_scheduler, x0_from_v
from next3d.errors import BadInputError

RenderFn = Callable[[torch.Tensor], torch.Tensor]  # raw latents (B, L, D) -> images (B, 3, H, W) in [-1, 1]


@dataclass(frozen=True)
class ImageCondition:
    """What the conditional prior sees: image (1 or n, 3, H, W) in [-1, 1], mask (1 or n, 1, H, W), 1 = known."""

    image: torch.Tensor
    mask: torch.Tensor | None = None


@dataclass(frozen=True)
class KnownTokens:
    """Raw latents (1 or n, L, D) whose rows where `tokens` (L,) is True are kept; the others are sampled."""

    latents: torch.Tensor
    tokens: torch.Tensor


@dataclass(frozen=True)
class SamplingProgress:
    """Passed to the callback after every step: x0 is the current clean estimate as raw latents (n, L, D)."""

    step: int                      # 1-based
    steps: int
    timestep: int
    x0: torch.Tensor
    guidance_loss: torch.Tensor | None


@dataclass
class SampleResult:
    """Raw latents (n, L, D) on the prior's device, the seeds, and the guidance loss per step (each (n,))."""

    latents: torch.Tensor
    seeds: list[int]
    guidance_losses: list[torch.Tensor] = field(default_factory=list)
    cancelled: bool = False


class LatentDiffusionPipeline:
    """prior + optional differentiable renderer; call it to sample latents (see module doc for the update)."""

    def __init__(self, prior: LatentPrior, render_fn: RenderFn | None = None):
        self.prior = prior
        self.render_fn = render_fn

    @property
    def device(self) -> torch.device:
        return self.prior.normalizer.center.device

    @torch.no_grad()
    def __call__(self, n: int = 1, *, steps: int = 50, eta: float = 0.0, cfg_scale: float = 1.0, seed: int = 0,
                 sampler: str = "ddim", condition: ImageCondition | None = None,
                 guidance: ImageGuidance | None = None, known: KnownTokens | None = None,
                 callback: Callable[[SamplingProgress], bool | None] | None = None) -> SampleResult:
        """Sample n latents; `callback` returning False stops early (result.cancelled, latents = last x0 estimate)."""
        self._validate(n, steps, eta, cfg_scale, sampler, guidance)
        prior, device = self.prior, self.device
        shape = prior.cfg.latent_shape
        generators = [torch.Generator().manual_seed(seed + i) for i in range(n)]
        scheduler = sampling_scheduler(sampler, prior.cfg.num_train_timesteps)
        scheduler.set_timesteps(steps, device=device)
        abar = scheduler.alphas_cumprod.to(device)
        ctx_cond, ctx_null = self._contexts(n, condition)
        known_raw, known_x0, known_mask = self._known(n, known)
        x = self._noise(generators, shape) * scheduler.init_noise_sigma
        result = SampleResult(x, [seed + i for i in range(n)])
        for i, t in enumerate(scheduler.timesteps):
            if known_x0 is not None:
                noised = abar[t].sqrt() * known_x0 + (1 - abar[t]).sqrt() * self._noise(generators, shape)
                x = torch.where(known_mask, noised, x)
            if guidance is None:
                v, grad, loss = self._predict(x, t, ctx_cond, ctx_null, cfg_scale), None, None
            else:
                v, grad, loss = self._guided(x, t, abar[t], ctx_cond, ctx_null, cfg_scale, guidance)
                result.guidance_losses.append(loss)
            x0 = x0_from_v(x, v, abar[t])
            if sampler == "ddim":
                variance_noise = self._noise(generators, shape) if eta > 0 else None
                x = scheduler.step(v, t, x, eta=eta, variance_noise=variance_noise).prev_sample
            else:
                x = scheduler.step(v, t, x).prev_sample
            if grad is not None:
                x = x - guidance.scale * grad
            if callback is not None:
                keep_going = callback(SamplingProgress(i + 1, steps, int(t), prior.normalizer.unnormalize(x0), loss))
                if keep_going is False:
                    result.latents, result.cancelled = prior.normalizer.unnormalize(x0), True
                    return result
        result.latents = prior.normalizer.unnormalize(x)
        if known_raw is not None:
            result.latents = torch.where(known_mask, known_raw, result.latents)
        return result

    def _predict(self, x, t, ctx_cond, ctx_null, cfg_scale: float) -> torch.Tensor:
        """v with classifier-free guidance when a condition and cfg_scale != 1 are given."""
        t = t.expand(len(x))
        if ctx_cond is None:
            return self.prior.predict_v(x, t, ctx_null)
        if cfg_scale == 1.0:
            return self.prior.predict_v(x, t, ctx_cond)
        v_cond, v_null = self.prior.predict_v(torch.cat([x, x]), torch.cat([t, t]),
                                              torch.cat([ctx_cond, ctx_null])).chunk(2)
        return v_null + cfg_scale * (v_cond - v_null)

    def _guided(self, x, t, abar_t, ctx_cond, ctx_null, cfg_scale: float, guidance: ImageGuidance):
        """(v, gradient of the summed image loss w.r.t. x_t or x0_hat, per-sample loss)."""
        with torch.enable_grad():
            if guidance.wrt == "x_t":
                wrt = x.detach().requires_grad_(True)
                v = self._predict(wrt, t, ctx_cond, ctx_null, cfg_scale)
                x0 = x0_from_v(wrt, v, abar_t)
            else:
                v = self._predict(x, t, ctx_cond, ctx_null, cfg_scale)
                wrt = x0 = x0_from_v(x, v, abar_t).detach().requires_grad_(True)
            loss = guidance_loss(self.render_fn(self.prior.normalizer.unnormalize(x0)), guidance)
            (grad,) = torch.autograd.grad(loss.sum(), wrt)
        return v.detach(), grad, loss.detach()

    def _contexts(self, n: int, condition: ImageCondition | None):
        prior = self.prior
        if condition is None:
            return None, prior.null_condition(n)
        if not prior.conditional:
            raise BadInputError("this prior was trained without image conditioning; "
                                "sample it without a condition image")
        image = condition.image.to(self.device, torch.float32)
        if image.ndim != 4 or image.shape[1] != 3 or image.shape[0] not in (1, n):
            raise BadInputError(f"condition image: expected (1 or {n}, 3, H, W), got {tuple(image.shape)}")
        mask = condition.mask
        mask = torch.ones_like(image[:, :1]) if mask is None else mask.to(self.device, torch.float32)
        if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[-2:] != image.shape[-2:]:
            raise BadInputError(f"condition mask: expected (1 or {n}, 1, {image.shape[2]}, {image.shape[3]}), "
                                f"got {tuple(mask.shape)}")
        image, mask = torch.broadcast_tensors(image, mask.expand(-1, 3, -1, -1))
        tokens = prior.encode_condition(image.expand(n, -1, -1, -1), mask[:, :1].expand(n, -1, -1, -1))
        return tokens, prior.null_condition(n)

    def _known(self, n: int, known: KnownTokens | None):
        """(raw (n, L, D), normalized (n, L, D), token mask (1, L, 1)) of the kept tokens, or Nones."""
        if known is None:
            return None, None, None
        shape = self.prior.cfg.latent_shape
        latents = known.latents.to(self.device, torch.float32)
        if latents.ndim == 2:
            latents = latents[None]
        if latents.shape[1:] != shape or latents.shape[0] not in (1, n):
            raise BadInputError(f"known latents: expected (1 or {n}, {shape[0]}, {shape[1]}), "
                                f"got {tuple(known.latents.shape)}")
        tokens = known.tokens.to(self.device).bool()
        if tokens.shape != (shape[0],):
            raise BadInputError(f"known token mask: expected ({shape[0]},) booleans, got {tuple(tokens.shape)}")
        latents = latents.expand(n, -1, -1)
        return latents, self.prior.normalizer.normalize(latents), tokens[None, :, None]

    def _noise(self, generators: list[torch.Generator], shape: tuple[int, int]) -> torch.Tensor:
        return torch.stack([torch.randn(shape, generator=g) for g in generators]).to(self.device)

    def _validate(self, n, steps, eta, cfg_scale, sampler, guidance) -> None:
        if n < 1:
            raise BadInputError(f"n = {n}: need at least one sample")
        if not 1 <= steps <= self.prior.cfg.num_train_timesteps:
            raise BadInputError(f"steps = {steps}: expected 1..{self.prior.cfg.num_train_timesteps}")
        if eta < 0 or cfg_scale < 0:
            raise BadInputError(f"eta = {eta}, cfg scale = {cfg_scale}: both must be >= 0")
        if sampler not in SAMPLERS:
            raise BadInputError(f"sampler '{sampler}': expected one of {', '.join(SAMPLERS)}")
        if eta > 0 and sampler != "ddim":
            raise BadInputError(f"eta = {eta}: only the ddim sampler is stochastic; use --sampler ddim")
        if guidance is not None:
            guidance.validate()
            if self.render_fn is None:
                raise BadInputError("image guidance needs a renderer (a generator checkpoint: --ckpt)")
