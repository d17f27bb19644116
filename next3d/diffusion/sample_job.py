"""sample-diffusion: sample latents from a trained prior (CFG, image guidance, kept rows) and render them.

Writes into OUT: latents.npz and sample-<seed>.npz (latent_files.py), sample-<seed>.png rendered with the
first chosen camera and head state (also the view used by image guidance), sampling.json (settings, prior,
generator, final guidance loss per sample) and log.jsonl.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from next3d.capture.jobs import save_png
from next3d.diffusion.generator_source import GeneratorSource, same_generator
from next3d.diffusion.guidance import ImageGuidance, guidance_loss
from next3d.diffusion.image_inputs import load_mask, load_rgb, to_uint8
from next3d.utils.jsonl import append_event
from next3d.diffusion.latent_codec import LATENT_KINDS, LatentCodec
from next3d.diffusion.latent_files import load_latents, save_sampled_latents
from next3d.diffusion.pipeline import (
    ImageCondition,
    KnownTokens,
    LatentDiffusionPipeline,
)
from next3d.diffusion.prior import load_prior
from next3d.diffusion.views import ViewSpec, camera_labels_for, head_states_for
from next3d.errors import BadInputError
from next3d.io.checkpoint import resolve_checkpoint
from next3d.utils.atomic import atomic_write_text
from next3d.utils.device import resolve_device


@dataclass(frozen=True)
class SampleDiffusionConfig:
    """One sample-diffusion run; sample i of n uses seed + i."""

    prior: str
    out: str
    n: int = 4
    steps: int = 50
    eta: float = 0.0
    cfg_scale: float = 1.0
    seed: int = 0
    sampler: str = "ddim"
    cond_image: str | None = None
    cond_mask: str | None = None
    target: str | None = None
    target_mask: str | None = None
    guidance_scale: float = 1.0
    guidance_resolution: int = 256
    guidance_wrt: str = "x_t"
    keep_rows: tuple[int, ...] = ()
    keep_from: str | None = None
    views: ViewSpec = field(default_factory=ViewSpec)
    batch: int = 8
    which: str = "prior_ema"
    device: str = "auto"
    progress: bool = True


def sample_diffusion(cfg: SampleDiffusionConfig, source: GeneratorSource | None,
                     warn: Callable[[str], None] | None = None) -> Path:
    """Run the sampler in batches of cfg.batch and write the outputs (see module doc)."""
    warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
    if cfg.n < 1 or cfg.batch < 1:
        raise BadInputError(f"--n {cfg.n}, --batch {cfg.batch}: both must be >= 1")
    device = resolve_device(cfg.device)
    prior = load_prior(cfg.prior, cfg.which, device)
    kind = prior.cfg.latent_field
    render_fn, codec, camera, head = None, None, None, None
    if source is not None:
        if kind not in LATENT_KINDS:
            raise BadInputError(f"{cfg.prior}: models '{kind}' latents, which a generator cannot render")
        given = source.describe()
        made_with = prior.cfg.source.get("generator", {})
        if made_with and not same_generator(made_with, given):
            warn(f"the prior was trained on latents of generator {made_with}; rendering with {given}")
        G = source.load(device)
        codec = LatentCodec(G, kind)
        if codec.shape != prior.cfg.latent_shape:
            raise BadInputError(f"{cfg.prior}: models {kind} latents of shape {prior.cfg.latent_shape}, "
                                f"the generator's are {codec.shape}")
        camera = camera_labels_for(cfg.views)[:1].to(device)
        head = head_states_for(cfg.views, G.head)[0].to(device)
        render_fn = codec.render_fn(camera, head)
    elif cfg.target:
        raise BadInputError("--target (image guidance) needs the generator: give --ckpt")
    condition = _condition(cfg)
    guidance = _guidance(cfg)
    known = _known(cfg, prior.cfg.latent_shape)
    pipe = LatentDiffusionPipeline(prior, render_fn)
    out = Path(cfg.out)
    log = out / "log.jsonl"
    bar = tqdm(total=cfg.n * cfg.steps, desc="sample-diffusion", unit="step", disable=not cfg.progress)
    latents, seeds, losses = [], [], []
    for start in range(0, cfg.n, cfg.batch):
        count = min(cfg.batch, cfg.n - start)
        result = pipe(count, steps=cfg.steps, eta=cfg.eta, cfg_scale=cfg.cfg_scale, seed=cfg.seed + start,
                      sampler=cfg.sampler, condition=condition, guidance=guidance, known=known,
                      callback=lambda p, count=count: bar.update(count))
        latents.append(result.latents.cpu())
        seeds.extend(result.seeds)
        if guidance is not None:
            with torch.no_grad():  # a measurement: no autograd graph through the generator
                losses.extend(guidance_loss(render_fn(result.latents), guidance).tolist())
        append_event(log, "batch", seeds=result.seeds, guidance_loss=losses[-count:] if guidance else None)
    bar.close()
    latents = torch.cat(latents)
    save_sampled_latents(out, latents.numpy(), kind, seeds)
    if codec is not None:
        for start in range(0, cfg.n, cfg.batch):
            with torch.no_grad():
                images = to_uint8(render_fn(latents[start:start + cfg.batch].to(device)))
            for seed, image in zip(seeds[start:start + cfg.batch], images):
                save_png(out / f"sample-{seed:06d}.png", image)
    summary = {"prior": str(resolve_checkpoint(cfg.prior)), "kind": kind, "seeds": seeds,
               "settings": json.loads(json.dumps(asdict(cfg), default=list)),
               "generator": source.describe() if source else None, "guidance_loss": losses or None}
    atomic_write_text(out / "sampling.json", json.dumps(summary, indent=1))
    return out


def _condition(cfg: SampleDiffusionConfig) -> ImageCondition | None:
    if not cfg.cond_image:
        if cfg.cond_mask:
            raise BadInputError("--cond-mask needs --cond-image")
        return None
    image = load_rgb(cfg.cond_image)
    mask = load_mask(cfg.cond_mask, image.shape[-1]) if cfg.cond_mask else None
    return ImageCondition(image, mask)


def _guidance(cfg: SampleDiffusionConfig) -> ImageGuidance | None:
    if not cfg.target:
        if cfg.target_mask:
            raise BadInputError("--target-mask needs --target")
        return None
    target = load_rgb(cfg.target, cfg.guidance_resolution)
    mask = load_mask(cfg.target_mask, cfg.guidance_resolution) if cfg.target_mask else None
    guidance = ImageGuidance(target, mask, cfg.guidance_scale, cfg.guidance_resolution, cfg.guidance_wrt)
    guidance.validate()
    return guidance


def _known(cfg: SampleDiffusionConfig, shape: tuple[int, int]) -> KnownTokens | None:
    if not cfg.keep_rows:
        if cfg.keep_from:
            raise BadInputError("--keep-from needs --keep-rows")
        return None
    if not cfg.keep_from:
        raise BadInputError("--keep-rows needs --keep-from (the latent whose rows are kept)")
    bad = [r for r in cfg.keep_rows if not 0 <= r < shape[0]]
    if bad:
        raise BadInputError(f"--keep-rows {bad[0]}: the latents have rows 0..{shape[0] - 1}")
    source = load_latents(cfg.keep_from, indices=[0]).latents
    if tuple(source.shape[1:]) != shape:
        raise BadInputError(f"--keep-from {cfg.keep_from}: latents of shape {tuple(source.shape[1:])}, "
                            f"the prior's are {shape}")
    tokens = torch.zeros(shape[0], dtype=torch.bool)
    tokens[list(cfg.keep_rows)] = True
    return KnownTokens(torch.from_numpy(source), tokens)
