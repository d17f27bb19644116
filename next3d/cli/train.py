"""`python -m next3d train`: headless GAN training of a Next3D generator (docs/training.md)."""

from __future__ import annotations

from pathlib import Path

import click

PRESETS = ("tiny", "small", "paper")


@click.command("train")
@click.option("--data", default=None, help="Dataset folder or .zip (EG3D layout + head data); required for a new run.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder of run directories.")
@click.option("--preset", type=click.Choice(PRESETS), default=None, help="Generator size  [default: small]")
@click.option("--generator-config", type=click.Path(dir_okay=False), default=None,
              help="A GeneratorConfig JSON (GeneratorConfig.to_dict) instead of --preset: custom sizes.")
@click.option("--init-generator", type=click.Path(dir_okay=False), default=None,
              help="Start a new run's G and G_ema from this generator file (fine-tuning; D starts fresh). Its sizes "
                   "are used unless --preset/--generator-config is given.")
@click.option("--init-discriminator", type=click.Path(dir_okay=False), default=None,
              help="Start a new run's D from this file (`next3d export RUN OUT --discriminator`): with "
                   "--init-generator, continue a run whose snapshot could not travel.")
@click.option("--batch", type=int, default=None, help="Global batch over all GPUs  [default: 32]")
@click.option("--batch-gpu", type=int, default=None, help="Samples per GPU per pass (gradient accumulation).")
@click.option("--kimg", type=float, default=100.0, show_default=True, help="Train until this many kimg.")
@click.option("--snap-kimg", type=float, default=4.0, show_default=True, help="Snapshot + grid interval.")
@click.option("--keep-snapshots", type=int, default=None,
              help="Keep only the newest N snapshot files (small preset: ~135 MB each)  [default: all]")
@click.option("--tick-kimg", type=float, default=1.0, show_default=True, help="Progress/log interval.")
@click.option("--gamma", type=float, default=None, help="R1 weight  [default: 1; Next3D paper: 4]")
@click.option("--density-reg", type=float, default=None, help="Density regularization weight  [default: 0.25]")
@click.option("--blur-fade-kimg", type=float, default=None,
              help="D input blur fades to 0 over this many kimg  [default: batch * 200 / 32, EG3D's; fine-tuning: "
                   "a few tens]")
@click.option("--d-expression/--no-d-expression", default=None,
              help="Condition D on each image's expression and jaw as well as its camera, so G must render the "
                   "expression it is given (needs a dataset with head parameters)  [default: no]")
@click.option("--d-mouth-mask/--no-d-mouth-mask", default=None,
              help="Give D, as an extra input channel, where each image's mouth is open (its inner lip contour "
                   "projected and filled), so G must open the mouth where the jaw opens it (needs head "
                   "parameters or vertices per image)  [default: no]")
@click.option("--d-warmup-kimg", type=float, default=None,
              help="Train D alone for this many kimg before G's updates start (fine-tuning with a fresh D)  "
                   "[default: 0]")
@click.option("--resume", default=None, help="'auto' (latest snapshot of --run-name or of the newest run; else a "
              "new run) or a run directory / snapshot file.")
@click.option("--run-name", default=None, help="Run folder name under --out  [default: 00000-preset-data]")
@click.option("--gpus", type=int, default=1, show_default=True,
              help="Processes, one per GPU (started through torchrun); CPU processes with --device cpu.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda")
@click.option("--seed", type=int, default=None, help="Random seed  [default: 0]")
@click.option("--lr-g", type=float, default=None, help="G learning rate  [default: 0.0025]")
@click.option("--lr-d", type=float, default=None, help="D learning rate  [default: 0.002]")
@click.option("--mirror/--no-mirror", default=None, help="Also train on x-flipped images  [default: no]")
@click.option("--precision", type=click.Choice(("auto", "fp32", "fp16", "bf16")), default=None,
              help="Reduced-precision blocks: auto = fp16 on CUDA, fp32 on CPU  [default: auto]")
@click.option("--head", "head_name", default=None, help="'builtin' or a head model file  [default: builtin]")
@click.option("--workers", type=int, default=2, show_default=True, help="Data loader processes per GPU.")
@click.option("--max-minutes", type=float, default=None, help="Stop cleanly with a snapshot after this long.")
@click.option("--metrics-extractor", default=None, type=click.Path(dir_okay=False),
              help="Your TorchScript Inception feature extractor (.pt); runs your model code. Enables FID/KID.")
@click.option("--metrics-features", default=None, type=click.Path(dir_okay=False),
              help="Real features .npz ('features' or 'mu'+'sigma'); default: computed from --data once.")
@click.option("--metrics-samples", type=int, default=10000, show_default=True, help="Generated images per metric.")
@click.option("--grid-seeds", type=int, default=4, show_default=True, help="Grid rows of fixed seeds.")
@click.option("--grid-views", type=int, default=5, show_default=True, help="Grid columns (yaw views).")
@click.option("--no-progress", is_flag=True, help="No progress bar (the JSONL log is still written).")
def train(data, out, preset, generator_config, init_generator, init_discriminator, batch, batch_gpu, kimg,
          snap_kimg, keep_snapshots, tick_kimg, gamma, density_reg, blur_fade_kimg, d_warmup_kimg, d_expression,
          d_mouth_mask, resume, run_name, gpus, device, seed, lr_g, lr_d, mirror, precision, head_name, workers,
          max_minutes, metrics_extractor, metrics_features, metrics_samples, grid_seeds, grid_views,
          no_progress) -> None:
    """Train a Next3D generator (EG3D losses: non-saturating, lazy dual R1, density regularization, pose
    conditioning swap, EMA) and write snapshots, grids and log.jsonl to OUT/<run>/.

    Rerun with --resume auto to continue after a stop or a crash; --max-minutes trains in chunks.
    """
    from next3d.errors import BadInputError
    from next3d.networks.presets import preset_config
    from next3d.train import distributed
    from next3d.train.config import LossConfig, MetricsConfig, RunOptions, TrainConfig
    from next3d.train.loop import check_inputs, train as run_training

    if preset is not None and generator_config is not None:
        raise BadInputError("--preset and --generator-config: give one of them")
    generator = preset_config(preset) if preset is not None else None
    if generator_config is not None:
        generator = _read_generator_config(generator_config)
    if init_generator is not None:
        init_generator = _absolute(init_generator)
        if generator is None:
            generator = _generator_config_of(init_generator)
    if init_discriminator is not None:
        init_discriminator = _absolute(init_discriminator)
    explicit = {"data": None if data is None else _absolute(data), "batch": batch, "batch_gpu": batch_gpu,
                "seed": seed, "lr_g": lr_g, "lr_d": lr_d, "xflip": mirror, "precision": precision, "head": head_name,
                "generator": generator, "init_generator": init_generator,
                "init_discriminator": init_discriminator, "loss.r1_gamma": gamma,
                "loss.density_reg": density_reg, "loss.blur_fade_kimg": blur_fade_kimg,
                "d_expression": d_expression, "d_mouth_mask": d_mouth_mask, "d_warmup_kimg": d_warmup_kimg}
    overrides = {k: v for k, v in explicit.items() if v is not None}
    config = None
    if data is not None:
        loss = LossConfig(r1_gamma=1.0 if gamma is None else gamma,
                          density_reg=0.25 if density_reg is None else density_reg, blur_fade_kimg=blur_fade_kimg)
        config = TrainConfig(data=explicit["data"], generator=generator or preset_config("small"),
                             head=head_name or "builtin",
                             batch=32 if batch is None else batch, batch_gpu=batch_gpu, seed=seed or 0,
                             lr_g=0.0025 if lr_g is None else lr_g, lr_d=0.002 if lr_d is None else lr_d,
                             xflip=bool(mirror), precision=precision or "auto", loss=loss,
                             init_generator=init_generator, init_discriminator=init_discriminator,
                             d_expression=bool(d_expression),
                             d_mouth_mask=bool(d_mouth_mask),
                             d_warmup_kimg=d_warmup_kimg or 0.0)
    elif resume is None:
        raise BadInputError("--data is required for a new run (or pass --resume to continue one)")
    metrics = MetricsConfig(extractor=metrics_extractor, real_features=metrics_features, num_samples=metrics_samples)
    options = RunOptions(out=out, run_name=run_name, resume=resume, kimg=kimg, snap_kimg=snap_kimg,
                         keep_snapshots=keep_snapshots, tick_kimg=tick_kimg,
                         gpus=gpus, device=device, workers=workers, max_minutes=max_minutes, grid_seeds=grid_seeds,
                         grid_views=grid_views, metrics=metrics, progress=not no_progress)

    if gpus > 1 and not distributed.launched_by_torchrun():
        check_inputs(config, options, overrides)  # one clear error here instead of one per process
        code = distributed.relaunch_with_torchrun(gpus, command_line(click.get_current_context()))
        if code:
            raise SystemExit(code)
        return
    result = run_training(config, options, overrides)
    if not distributed.launched_by_torchrun() or distributed_rank() == 0:
        state = "finished" if result.finished else "stopped (--max-minutes); continue with --resume auto:"
        click.echo(f"{state} {result.run_dir} at kimg {result.state.kimg:.3f} (step {result.state.step})")


def command_line(ctx: click.Context) -> list[str]:
    """The arguments that repeat this invocation (for the processes torchrun starts): every parsed option."""
    argv = ["--debug"] if ctx.parent is not None and ctx.parent.params.get("debug") else []
    argv.append(ctx.info_name)
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or value is False and not param.secondary_opts:
            continue
        if isinstance(param, click.Option) and param.is_flag:
            argv.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            argv += [param.opts[0], str(value)]
    return argv


def distributed_rank() -> int:
    import os

    return int(os.environ.get("RANK", "0"))


def _read_generator_config(path: str):
    import json

    from next3d.errors import BadInputError
    from next3d.networks.presets import GeneratorConfig

    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"--generator-config {path}: not a readable JSON file ({exc})") from None
    if not isinstance(document, dict):
        raise BadInputError(f"--generator-config {path}: expected a JSON object of generator settings")
    try:
        return GeneratorConfig.from_dict(document, where=str(path))
    except TypeError as exc:
        raise BadInputError(f"--generator-config {path}: {exc}") from None


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().absolute())


def _generator_config_of(path: str):
    """The generator sizes recorded in a generator file (--init-generator without --preset)."""
    from next3d.errors import BadInputError
    from next3d.io.checkpoint import read_meta
    from next3d.networks.presets import GeneratorConfig

    meta = read_meta(path)
    if "generator_config" not in meta:
        raise BadInputError(f"--init-generator {path}: not a generator file (kind '{meta.get('kind', '?')}')")
    return GeneratorConfig.from_dict(meta["generator_config"], where=f"{path}: generator_config")
