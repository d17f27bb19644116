"""Training the latent prior on a latent store: Adam, grad clip, EMA, snapshots, resume, DDP (torchrun).

Randomness of step s on rank r comes from a generator seeded by (seed, r, s), so a resumed run draws exactly
the batches, noise and timesteps the uninterrupted run would have drawn.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from next3d.diffusion.condition_masks import random_box_masks
from next3d.diffusion.denoiser import DenoiserConfig
from next3d.diffusion.diffusion_loss import VPredictionLoss
from next3d.diffusion.distributed import barrier, context_from_environ, init_process_group
from next3d.utils.distributed import DistributedContext
from next3d.utils.ema import update_ema, warmup_decay
from next3d.diffusion.image_encoder import ImageEncoderConfig
from next3d.utils.jsonl import append_event
from next3d.diffusion.latent_stats import load_stats
from next3d.diffusion.latent_store import LatentStore
from next3d.diffusion.normalization import LatentNormalizer
from next3d.diffusion.optimizer_state import load_optimizer_tensors, optimizer_tensors
from next3d.diffusion.prior import PRIOR_KIND, LatentPrior, PriorConfig
from next3d.errors import BadInputError
from next3d.io.checkpoint import (
    SNAPSHOT_GLOB,
    load_checkpoint,
    load_state_strict,
    save_checkpoint,
)
from next3d.utils.atomic import atomic_write_text
from next3d.utils.device import resolve_device

IMAGE_FIELD = "image"


@dataclass(frozen=True)
class TrainConfig:
    """A train-diffusion run. Widths/depth describe the denoiser; cond_* the optional image encoder."""

    data: str
    out: str
    latent_field: str | None = None         # None: the store's first latent field
    normalization: str = "minmax"
    steps: int = 100_000
    batch: int = 64                         # per process
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    ema: float = 0.9999
    loss: str = "l1"
    weighting: str = "snr"
    width: int = 512
    depth: int = 12
    heads: int = 8
    conditional: bool = False
    cond_dropout: float = 0.2
    cond_resolution: int = 64
    cond_channels: int = 64
    cond_grid: int = 16
    cond_width: int = 256
    snapshot_every: int = 5000
    log_every: int = 100
    seed: int = 0
    device: str = "auto"
    resume: str | None = None               # "latest" (the run's newest snapshot, if any) or a snapshot path
    progress: bool = True


@dataclass
class TrainState:
    """What `train_prior` returns: the trained modules and where the last snapshot went."""

    prior: LatentPrior
    prior_ema: LatentPrior
    step: int
    last_snapshot: Path | None


def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The CPU generator for one training step of one rank."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0]))


def build_prior(cfg: TrainConfig, store: LatentStore) -> LatentPrior:
    """A fresh prior sized for `store`'s latent field, normalized with the store's statistics."""
    field = cfg.latent_field
    shape = store.layout.fields[field].shape
    if len(shape) != 2:
        raise BadInputError(f"{store.path}: latent field '{field}' has per-sample shape {list(shape)}, expected (L, D)")
    encoder = None
    if cfg.conditional:
        if IMAGE_FIELD not in store.layout.fields:
            raise BadInputError(f"{store.path}: --cond needs images in the store (field '{IMAGE_FIELD}')")
        encoder = ImageEncoderConfig(cfg.cond_resolution, cfg.cond_channels, cfg.cond_grid, cfg.cond_width)
    denoiser = DenoiserConfig(shape[0], shape[1], cfg.width, cfg.depth, cfg.heads,
                              cond_dim=encoder.width if encoder else 0)
    prior_cfg = PriorConfig(field, cfg.normalization, denoiser, encoder, source=store.layout.source)
    normalizer = LatentNormalizer.from_stats(load_stats(store.path, field), cfg.normalization)
    return LatentPrior(prior_cfg, normalizer)


def train_prior(cfg: TrainConfig, on_step: Callable[[int, float], None] | None = None) -> TrainState:
    """Run (or resume) training; rank 0 writes snapshots, log.jsonl and run.json into `cfg.out`."""
    env = context_from_environ(resolve_device(cfg.device))
    device = env.device
    joined = init_process_group(env)
    if env.distributed and not joined and not torch.distributed.is_initialized():
        raise BadInputError("WORLD_SIZE > 1 but no process group: launch multi-process training with torchrun")
    try:
        return _train(cfg, env, device, on_step)
    finally:
        if joined:
            torch.distributed.destroy_process_group()


def _train(cfg: TrainConfig, env: DistributedContext, device: torch.device, on_step) -> TrainState:
    store = LatentStore(cfg.data)
    if cfg.latent_field is None:
        cfg = replace(cfg, latent_field=store.layout.latent_fields[0])
    if cfg.latent_field not in store.layout.latent_fields:
        raise BadInputError(f"--latent {cfg.latent_field}: {cfg.data} holds latent fields "
                            f"{', '.join(store.layout.latent_fields)}")
    run = Path(cfg.out)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # the same initial weights for a given seed (and on every rank)
        prior = build_prior(cfg, store).to(device)
    loss_module = VPredictionLoss(prior, cfg.loss, cfg.weighting).to(device)
    optimizer = torch.optim.Adam(prior.parameters(), lr=cfg.lr, betas=cfg.betas)
    prior_ema = copy.deepcopy(prior).eval().requires_grad_(False)
    step = _resume(cfg, run, prior, prior_ema, optimizer)
    trainer = loss_module
    if env.distributed:
        trainer = torch.nn.parallel.DistributedDataParallel(
            loss_module, device_ids=[device.index] if device.type == "cuda" else None)
    if env.is_main:
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run / "run.json", json.dumps({"train": _jsonable(asdict(cfg)),
                                                        "prior_config": prior.cfg.to_dict()}, indent=1))
    latents, images = store.field(cfg.latent_field), store.field(IMAGE_FIELD) if cfg.conditional else None
    log = run / "log.jsonl" if env.is_main else None
    bar = tqdm(total=cfg.steps, initial=step, desc="train-diffusion", unit="step",
               disable=not (cfg.progress and env.is_main))
    last_snapshot, window, t0 = None, [], time.time()
    if log:
        append_event(log, "start", step=step, steps=cfg.steps, world_size=env.world_size, device=str(device))
    while step < cfg.steps:
        batch = _draw_batch(cfg, env, step, latents, images, len(store), prior.cfg.num_train_timesteps)
        batch = {k: v.to(device) if v is not None else None for k, v in batch.items()}
        with torch.no_grad():
            batch["x0"] = prior.normalizer.normalize(batch.pop("latents"))
        loss = trainer(batch["x0"], batch["noise"], batch["t"], batch["image"], batch["mask"], batch["drop"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(prior.parameters(), cfg.grad_clip)
        optimizer.step()
        update_ema(prior_ema, prior, warmup_decay(step, cfg.ema))
        step += 1
        window.append(loss.item())
        bar.update(1)
        if on_step:
            on_step(step, window[-1])
        if step % cfg.log_every == 0 or step == cfg.steps:
            if log:
                append_event(log, "train", step=step, loss=float(np.mean(window)), grad_norm=float(grad_norm),
                             sec_per_step=(time.time() - t0) / len(window))
                bar.set_postfix(loss=f"{np.mean(window):.4f}")
            window, t0 = [], time.time()
        if step % cfg.snapshot_every == 0 or step == cfg.steps:
            if env.is_main:
                last_snapshot = _save_snapshot(cfg, run, step, prior, prior_ema, optimizer)
                append_event(log, "snapshot", step=step, path=str(last_snapshot))
            barrier()
    bar.close()
    return TrainState(prior, prior_ema, step, last_snapshot)


def _draw_batch(cfg: TrainConfig, env: DistributedContext, step: int, latents, images, count: int, timesteps: int) -> dict:
    g = step_generator(cfg.seed, env.rank, step)
    index = torch.randint(count, (cfg.batch,), generator=g).numpy()
    x = torch.from_numpy(latents.take(index).astype(np.float32))
    batch = {"latents": x, "noise": torch.randn(x.shape, generator=g),
             "t": torch.randint(timesteps, (cfg.batch,), generator=g), "image": None, "mask": None, "drop": None}
    if images is not None:
        rgb = torch.from_numpy(images.take(index)).permute(0, 3, 1, 2).float() / 127.5 - 1
        batch["image"] = rgb
        batch["mask"] = random_box_masks(cfg.batch, rgb.shape[-1], g)
        batch["drop"] = torch.rand(cfg.batch, generator=g) < cfg.cond_dropout
    return batch


def _resume(cfg: TrainConfig, run: Path, prior: LatentPrior, prior_ema: LatentPrior, optimizer) -> int:
    if cfg.resume is None:
        if any(run.glob(SNAPSHOT_GLOB)):
            raise BadInputError(f"{run}: already holds snapshots; pass --resume latest to continue, or another --out")
        return 0
    if cfg.resume == "latest":
        snapshots = sorted(run.glob(SNAPSHOT_GLOB))
        if not snapshots:
            return 0
        path = snapshots[-1]
    else:
        path = Path(cfg.resume)
    ckpt = load_checkpoint(path)
    if ckpt.meta.get("kind") != PRIOR_KIND:
        raise BadInputError(f"{path}: a '{ckpt.meta.get('kind')}' checkpoint, not a diffusion prior snapshot")
    saved = PriorConfig.from_dict(ckpt.meta["prior_config"])
    if saved.to_dict() | {"source": None} != prior.cfg.to_dict() | {"source": None}:
        raise BadInputError(f"{path}: the snapshot's prior settings differ from this run's "
                            f"({saved.to_dict()} vs {prior.cfg.to_dict()})")
    load_state_strict(prior, ckpt.module_state("prior"), f"{path} (prior)")
    load_state_strict(prior_ema, ckpt.module_state("prior_ema"), f"{path} (prior_ema)")
    load_optimizer_tensors(optimizer, ckpt.tensors.get("optimizer", {}), ckpt.meta["optimizer"], str(path))
    return int(ckpt.meta["training"]["step"])


def _save_snapshot(cfg: TrainConfig, run: Path, step: int, prior, prior_ema, optimizer) -> Path:
    path = run / f"snapshot-{step:08d}.safetensors"
    opt_tensors, opt_groups = optimizer_tensors(optimizer)
    meta = {"kind": PRIOR_KIND, "prior_config": prior.cfg.to_dict(), "optimizer": opt_groups,
            "training": {"step": step, "config": _jsonable(asdict(cfg))}}
    save_checkpoint(path, {"prior": prior, "prior_ema": prior_ema, "optimizer": opt_tensors}, meta)
    return path


def _jsonable(d: dict) -> dict:
    return json.loads(json.dumps(d, default=list))
