"""The training loop: `train(config, options)` runs (or continues) one run on this process's share of the
GPUs. Each step runs EG3D's phases (Gmain, Greg every density interval, Dmain, Dreg every R1 interval) over
this process's micro-batches, updates w_avg and G_ema, and at tick/snapshot boundaries logs, writes
snapshots and grids, and evaluates metrics (rank 0 writes; every rank computes)."""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from next3d.data.head_link import load_head
from next3d.errors import BadInputError, Next3DError
from next3d.io.checkpoint import load_checkpoint, load_state_strict
from next3d.io.generator_file import load_generator
from next3d.networks.discriminator import DiscriminatorConfig, DualDiscriminator
from next3d.networks.generator import Next3DGenerator
from next3d.train import distributed, schedule
from next3d.train.config import RunOptions, TrainConfig
from next3d.train.d_condition import DiscriminatorCondition
from next3d.train.data import condition_pool, dataset_name, open_training_data, real_loader, to_device
from next3d.train.grids import grid_path, render_grid, save_grid
from next3d.train.log import LOG_FILE, rewind_log
from next3d.train.optim import lazy_adam, sanitize_gradients
from next3d.train.phases import GeneratorPass, Phases
from next3d.train.precision import apply_precision
from next3d.train.run_dir import RunPlan, plan_run, write_run_config
from next3d.train.sampler import StreamSampler
from next3d.train.seeding import seed_micro_batch
from next3d.train.snapshot import (TrainingState, load_snapshot, prune_snapshots, remove_partial_files,
                                   restore_snapshot, save_snapshot, snapshot_path)
from next3d.train.stats import TickStats
from next3d.utils.ema import update_ema
from next3d.utils.jsonl import JsonlLog

STOP_CHECK_STEPS = 4  # multi-process runs agree on --max-minutes every this many steps


@dataclass
class Networks:
    G: Next3DGenerator
    G_ema: Next3DGenerator
    D: DualDiscriminator


@dataclass
class Optimizers:
    G: torch.optim.Optimizer
    D: torch.optim.Optimizer


@dataclass
class TrainResult:
    """How a call to `train` ended."""

    run_dir: Path
    state: TrainingState
    finished: bool  # reached options.kimg (False: stopped by --max-minutes)
    last_tick: dict = field(default_factory=dict)
    snapshots: list[Path] = field(default_factory=list)


def train(config: TrainConfig | None, options: RunOptions, overrides: dict | None = None, warn=None) -> TrainResult:
    """Train (or resume, per options.resume) until options.kimg; see TrainConfig and RunOptions.

    `overrides`: settings the user gave explicitly, checked against a resumed run's own (see plan_run).
    """
    options.validate()
    ctx = distributed.setup(options.device, options.gpus)
    finished_cleanly = False
    try:
        result = Trainer(config, options, overrides, ctx, warn).run()
        finished_cleanly = True
        return result
    finally:
        if finished_cleanly:
            distributed.teardown(ctx)
        elif ctx.distributed and dist.is_initialized():
            dist.destroy_process_group()


def check_inputs(config: TrainConfig | None, options: RunOptions, overrides: dict | None = None, warn=None) -> RunPlan:
    """Every check `train` makes before it writes anything (launchers run it before starting processes)."""
    options.validate()
    plan = plan_run(options, config, overrides, dataset_name(config.data) if config else "run", warn)
    open_inputs(plan, options, options.gpus, warn=lambda msg: None)
    return plan


def open_inputs(plan: RunPlan, options: RunOptions, world_size: int, warn=None):
    """The checked config (batch_gpu fixed), head model and dataset of a planned run; metrics files checked."""
    if options.metrics.enabled:
        from next3d.train.metrics.features import FeatureExtractor, load_real_features

        FeatureExtractor(options.metrics.extractor, torch.device("cpu"))
        if options.metrics.real_features is not None:
            load_real_features(options.metrics.real_features)
    config = plan.config.with_batch_gpu(world_size)
    config.validate(world_size)
    head = load_head(config.head)
    dataset = open_training_data(config.data, head, config.generator.img_resolution, config.xflip, warn=warn)
    if config.d_expression and dataset.head_vectors is None:
        raise BadInputError(f"{config.data}: --d-expression needs head parameters per image, and this dataset has "
                            "none (`dataset synth` writes them)")
    if config.d_mouth_mask and dataset.head_vectors is None and dataset.index.vertex_files is None:
        raise BadInputError(f"{config.data}: --d-mouth-mask needs head parameters or vertices per image, and this "
                            "dataset has neither (`dataset synth` writes them)")
    if plan.resuming:
        check_resumable(plan, head, dataset)
    else:  # fails here, before the run directory is written
        if config.init_generator is not None:
            initial_generator(config, head)
        if config.init_discriminator is not None:
            initial_discriminator(config, head)
    return config, head, dataset


def initial_generator(config: TrainConfig, head) -> torch.nn.Module:
    """The generator file a new run starts from (fine-tuning), checked against the run's sizes and head model."""
    where = config.init_generator
    G = load_generator(where, "cpu", head=head)
    if G.config != config.generator:
        theirs, ours = G.config.to_dict(), config.generator.to_dict()
        differ = [k for k in ours if theirs.get(k) != ours[k]]
        raise BadInputError(f"{where}: generator sizes differ from this run's ({', '.join(differ)}); "
                            f"leave out --preset/--generator-config to take the file's")
    return G


def discriminator_config(config: TrainConfig, head) -> DiscriminatorConfig:
    """The D sizes of a run: the preset's, with the label and condition channels its D inputs need."""
    condition = d_condition_of(config, head)
    return config.generator.discriminator(c_dim=condition.dim, cond_channels=condition.image_channels)


def d_condition_of(config: TrainConfig, head) -> DiscriminatorCondition:
    """What D is given besides the image: the camera label, optionally expression and the mouth mask."""
    return DiscriminatorCondition(head, config.d_expression,
                                  config.generator.img_resolution if config.d_mouth_mask else None)


def initial_discriminator(config: TrainConfig, head) -> DualDiscriminator:
    """The discriminator file a new run's D starts from (`export --discriminator`), checked against the run."""
    where = config.init_discriminator
    ckpt = load_checkpoint(where)
    if ckpt.meta.get("kind") not in ("discriminator", "snapshot"):
        raise BadInputError(f"{where}: not a discriminator file (kind '{ckpt.meta.get('kind', '?')}'); "
                            "write one with `next3d export RUN OUT --discriminator`")
    D = DualDiscriminator(discriminator_config(config, head))
    theirs = ckpt.meta.get("discriminator_config")
    if isinstance(theirs, dict):
        ours = dataclasses.asdict(D.config)
        differ = [k for k in ours if k in theirs and theirs[k] != ours[k]]
        if differ:
            raise BadInputError(f"{where}: discriminator sizes differ from this run's ({', '.join(differ)}); "
                                "train with the --d-expression/--d-mouth-mask/--preset it was trained with")
    load_state_strict(D, ckpt.module_state("D"), f"{where} (D)")
    return D


def check_resumable(plan: RunPlan, head, dataset) -> None:
    """The snapshot was trained with this head model and a dataset of this size."""
    meta = plan.snapshot.meta
    recorded = meta.get("head", {}).get("hash")
    if recorded and recorded != head.content_hash():
        raise BadInputError(f"{plan.snapshot.path}: trained with head model hash {recorded[:12]}, but head "
                            f"'{plan.config.head}' has hash {head.content_hash()[:12]}")
    entries = meta["training"].get("data_entries")
    if entries is not None and entries != len(dataset):
        raise BadInputError(f"{plan.config.data}: {len(dataset)} training samples, but the run was trained on "
                            f"{entries}; resume with the same dataset")


class Trainer:
    """One process's part of a run (built by `train`)."""

    def __init__(self, config, options: RunOptions, overrides, ctx: distributed.DistributedContext, warn=None):
        self.start_time = time.time()
        self.options, self.ctx = options, ctx
        self.warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
        plan = self._agree_on_plan(config, overrides)
        self.run_dir = plan.run_dir
        self.config, self.head, self.dataset = open_inputs(plan, options, ctx.world_size,
                                                           warn=self.warn if ctx.is_main else (lambda msg: None))
        cfg = self.config
        self.state = TrainingState(0, 0)
        self.pool = condition_pool(self.dataset, ctx.device)
        self.d_condition = d_condition_of(cfg, self.head)
        self.metrics = None
        if options.metrics.enabled and ctx.is_main:
            from next3d.train.metrics.evaluate import MetricsHook

            self.metrics = MetricsHook(options.metrics, self.run_dir, self.dataset, self.pool, ctx.device)

        # Everything is checked: from here on the run directory is written (rank 0 only).
        self.log = JsonlLog(None)
        if ctx.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if plan.resuming:
                remove_partial_files(self.run_dir)
            else:
                write_run_config(self.run_dir, cfg, options)
        self.nets, self.opts = self._build_networks(plan)
        if ctx.is_main:
            rewind_log(self.run_dir / LOG_FILE, self.state.step)
            self.log = JsonlLog(self.run_dir / LOG_FILE)
        self.G_train = distributed.wrap(GeneratorPass(self.nets.G, Phases.training_options(cfg)), ctx, find_unused=True)
        self.D_train = distributed.wrap(self.nets.D, ctx)
        self.phases = Phases(cfg, self.nets.G, self.G_train, self.nets.D, self.D_train, self.pool, self.d_condition)
        self.micro = cfg.micro_batches(ctx.world_size)
        sampler = StreamSampler(len(self.dataset), cfg.seed, cfg.batch, cfg.batch_gpu, ctx.rank, ctx.world_size,
                                start_step=self.state.step)
        self.reals = real_loader(self.dataset, sampler, options.workers, ctx.device)
        self.stats = TickStats(ctx.device)
        self.snapshots: list[Path] = []

    # -- set-up ------------------------------------------------------------------------------------------
    def _agree_on_plan(self, config, overrides) -> RunPlan:
        """Rank 0 plans (reads the run directory); the others follow its decision, or raise its error."""
        message = ""
        plan = None
        if self.ctx.is_main:
            try:
                plan = plan_run(self.options, config, overrides, dataset_name(config.data) if config else "run",
                                self.warn)
                message = json.dumps({"run_dir": str(plan.run_dir), "config": plan.config.to_dict(),
                                      "snapshot": str(plan.snapshot.path) if plan.resuming else None})
            except Next3DError as exc:
                message = json.dumps({"error": str(exc)})
                if not self.ctx.distributed:
                    raise
        message = _broadcast_text(message, self.ctx)
        decision = json.loads(message)
        if "error" in decision:
            raise BadInputError(decision["error"])
        if plan is None:
            snapshot = load_snapshot(Path(decision["snapshot"])) if decision["snapshot"] else None
            plan = RunPlan(Path(decision["run_dir"]), TrainConfig.from_dict(decision["config"]), snapshot)
        return plan

    def _build_networks(self, plan: RunPlan) -> tuple[Networks, Optimizers]:
        cfg, device = self.config, self.ctx.device
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels (official)
        torch.manual_seed(cfg.seed)  # the same initial weights on every process
        G = Next3DGenerator(cfg.generator, self.head).train()
        if not plan.resuming and cfg.init_generator is not None:  # before anything moves the shared head model
            G.load_state_dict(initial_generator(cfg, self.head).state_dict())  # fp16 files load as fp32
        D = DualDiscriminator(discriminator_config(cfg, self.head)).train()
        if not plan.resuming and cfg.init_discriminator is not None:
            D.load_state_dict(initial_discriminator(cfg, self.head).state_dict())
        G_ema = copy.deepcopy(G).eval()
        nets = Networks(G.to(device), G_ema.to(device), D.to(device))
        for module in (nets.G, nets.G_ema, nets.D):
            apply_precision(module, cfg.precision)
        loss = cfg.loss
        opts = Optimizers(
            G=lazy_adam(nets.G, cfg.lr_g, cfg.betas, loss.density_reg_interval if loss.density_reg > 0 else None),
            D=lazy_adam(nets.D, cfg.lr_d, cfg.betas, loss.r1_interval if loss.r1_gamma > 0 else None))
        if plan.resuming:
            self.state = restore_snapshot(plan.snapshot, nets, opts)
        return nets, opts

    # -- the loop ----------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg, options, ctx = self.config, self.options, self.ctx
        total_steps = schedule.steps_for(options.kimg, cfg.batch)
        self._log_start(total_steps)
        bar = tqdm(total=total_steps * cfg.batch, initial=self.state.nimg, unit="img", desc="train", dynamic_ncols=True,
                   disable=not (ctx.is_main and options.progress))
        tick_time, tick_nimg, last_tick = time.time(), self.state.nimg, {}
        stopped = False
        try:
            while self.state.step < total_steps:
                self._train_step()
                bar.update(cfg.batch)
                nimg, step = self.state.nimg, self.state.step
                done = step >= total_steps
                stop = not done and self._time_is_up()
                snap = done or stop or _crossed(nimg, cfg.batch, options.snap_kimg)
                tick = done or stop or snap or _crossed(nimg, cfg.batch, options.tick_kimg)
                if tick:
                    last_tick = self._tick(tick_time, tick_nimg)
                    bar.set_postfix_str(_postfix(last_tick), refresh=False)
                if snap:
                    self._snapshot()
                if tick:  # the next tick is timed from here: snapshot time is not training time
                    tick_time, tick_nimg = time.time(), nimg
                if stop:
                    stopped = True
                    self.log.write("stopped", step=step, kimg=nimg / 1000, reason="max_minutes")
                    break
            if not stopped:
                self.log.write("done", step=self.state.step, kimg=self.state.kimg)
        finally:
            bar.close()
            self.log.close()
        return TrainResult(self.run_dir, self.state, not stopped, last_tick, self.snapshots)

    def _train_step(self) -> None:
        cfg, loss, step, nimg = self.config, self.config.loss, self.state.step, self.state.nimg
        reals = [to_device(next(self.reals), self.ctx.device) for _ in range(self.micro)]
        blur = schedule.blur_sigma(nimg, loss.blur_init_sigma, cfg.blur_fade_kimg)
        swap = schedule.swap_probability(nimg, loss.gpc_reg_prob, loss.gpc_reg_fade_kimg)
        G, D, p = self.nets.G, self.nets.D, self.phases
        w_stats: list[dict] = []
        # A fresh D fine-tuning a trained G first learns alone: an uninformed D would walk G away from its heads.
        train_g = nimg >= cfg.d_warmup_kimg * 1000
        if train_g:
            self._phase("Gmain", 1, G, self.opts.G, reals, lambda r, g, s: p.g_main(r, blur, swap, g, s))
        if train_g and loss.density_reg > 0:
            self._phase("Greg", loss.density_reg_interval, G, self.opts.G, reals,
                        lambda r, g, s: p.g_density(r, swap, g, s))
        self._phase("Dmain", 1, D, self.opts.D, reals, lambda r, g, s: p.d_main(r, blur, swap, g, s), w_stats)
        if loss.r1_gamma > 0:
            self._phase("Dreg", loss.r1_interval, D, self.opts.D, reals, lambda r, g, s: p.d_r1(r, blur, g, s))
        self._update_w_avg(w_stats)
        beta = schedule.ema_beta(nimg, cfg.batch, cfg.ema_half_life_kimg, cfg.ema_rampup)
        update_ema(self.nets.G_ema, G, beta)
        self.state = TrainingState(step + 1, nimg + cfg.batch)

    def _phase(self, name, interval, module, opt, reals, run, collect: list | None = None) -> None:
        """Accumulate one phase's gradients over this process's micro-batches and step its optimizer."""
        step = self.state.step
        if step % interval:
            return
        G, D = self.nets.G, self.nets.D
        G.requires_grad_(module is G)
        D.requires_grad_(module is D)
        opt.zero_grad(set_to_none=True)
        for k, real in enumerate(reals):
            seed_micro_batch(self.config.seed, step, name, self.ctx.rank * self.micro + k)
            out = run(real, interval / self.micro, k == self.micro - 1)
            self.stats.add(out)
            if collect is not None:
                collect.append(out)
        G.requires_grad_(False)
        D.requires_grad_(False)
        sanitize_gradients(module)
        opt.step()

    def _update_w_avg(self, w_stats: list[dict]) -> None:
        """w_avg moves toward the mean w of this step's generated images (all processes)."""
        mapping = self.nets.G.backbone.mapping
        if not w_stats or mapping.w_avg_beta is None:
            return
        total = torch.cat([sum(s["w_sum"] for s in w_stats),
                           torch.tensor([float(sum(s["w_count"] for s in w_stats))], device=self.ctx.device)])
        total = distributed.all_reduce_sum(total, self.ctx)
        mean = total[:-1] / total[-1]
        mapping.w_avg.copy_(torch.lerp(mean, mapping.w_avg, mapping.w_avg_beta))

    def _time_is_up(self) -> bool:
        limit = self.options.max_minutes
        if limit is None:
            return False
        if self.ctx.distributed and self.state.step % STOP_CHECK_STEPS:
            return False
        return distributed.any_rank(time.time() - self.start_time > limit * 60, self.ctx)

    # -- ticks and snapshots -----------------------------------------------------------------------------
    def _log_start(self, total_steps: int) -> None:
        event = "resume" if self.state.step > 0 else "start"
        self.log.write(event, step=self.state.step, kimg=self.state.kimg, total_kimg=self.options.kimg,
                       total_steps=total_steps, gpus=self.ctx.world_size, batch=self.config.batch,
                       batch_gpu=self.config.batch_gpu, device=str(self.ctx.device),
                       preset=self.config.generator.preset, data=self.config.data)

    def _tick(self, tick_time: float, tick_nimg: int) -> dict:
        means = self.stats.collect(self.ctx)  # waits for the device: the time below covers all queued work
        seconds = max(time.time() - tick_time, 1e-9)
        images = self.state.nimg - tick_nimg
        record = {"step": self.state.step, "kimg": self.state.kimg, "sec_per_kimg": seconds / images * 1000,
                  "img_per_sec": images / seconds, "elapsed_sec": time.time() - self.start_time, **means}
        if self.ctx.device.type == "cuda":
            record["peak_mem_gb"] = torch.cuda.max_memory_allocated(self.ctx.device) / 2**30
            torch.cuda.reset_peak_memory_stats(self.ctx.device)
        self.log.write("tick", **record)
        return record

    def _snapshot(self) -> None:
        """Grid, snapshot file and metrics (rank 0); the other processes wait."""
        if self.ctx.is_main:
            nimg, step = self.state.nimg, self.state.step
            pixels = render_grid(self.nets.G_ema, self.pool, self.config.seed, self.options.grid_seeds,
                                 self.options.grid_views, chunk=self.config.batch_gpu)
            grid = grid_path(self.run_dir, nimg)
            save_grid(grid, pixels)
            self.log.write("grid", step=step, kimg=nimg / 1000, path=grid.name)
            path = snapshot_path(self.run_dir, nimg)
            save_snapshot(path, self.nets, self.opts, self.config, self.state, len(self.dataset))
            if path not in self.snapshots:
                self.snapshots.append(path)
            self.log.write("snapshot", step=step, kimg=nimg / 1000, path=path.name)
            if self.options.keep_snapshots is not None:
                prune_snapshots(self.run_dir, self.options.keep_snapshots)
            if self.metrics is not None:
                result = self.metrics.evaluate(self.nets.G_ema)
                self.log.write("metrics", step=step, kimg=nimg / 1000, **result)
        distributed.barrier(self.ctx)


def _crossed(nimg: int, batch: int, every_kimg: float) -> bool:
    """Whether the last step (batch images ending at nimg) crossed a multiple of every_kimg."""
    every = max(1, round(every_kimg * 1000))
    return nimg // every > (nimg - batch) // every


def _postfix(tick: dict) -> str:
    parts = [f"kimg {tick['kimg']:.3f}", f"{tick['sec_per_kimg']:.1f} s/kimg"]
    for name, label in (("loss_G", "G"), ("loss_D", "D"), ("r1_penalty", "r1")):
        if name in tick:
            parts.append(f"{label} {tick[name]:.3f}")
    return ", ".join(parts)


def _broadcast_text(text: str, ctx: distributed.DistributedContext) -> str:
    """Rank 0's string on every rank (UTF-8 bytes in tensors; no pickling)."""
    if not ctx.distributed:
        return text
    data = torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8, device=ctx.device)
    length = torch.tensor([data.numel()], dtype=torch.int64, device=ctx.device)
    dist.broadcast(length, src=0)
    buffer = data if ctx.is_main else torch.empty(int(length.item()), dtype=torch.uint8, device=ctx.device)
    dist.broadcast(buffer, src=0)
    return bytes(buffer.cpu().tolist()).decode("utf-8")
