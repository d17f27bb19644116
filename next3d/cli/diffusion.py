"""The diffusion-prior commands: save-samples, train-diffusion, sample-diffusion, gen-from-latents."""

from __future__ import annotations

import click

from next3d.errors import BadInputError

GENERATOR_HELP = ("Generator: a .safetensors checkpoint, a training run directory (latest snapshot) or "
                  "'builtin:tiny-random'.")


def generator_options(fn):
    """--ckpt, or --preset with --random-init and --init-seed (random weights, for tests and demos)."""
    for option in reversed([
        click.option("--ckpt", default=None, help=GENERATOR_HELP),
        click.option("--preset", default=None, help="With --random-init: a randomly initialised generator preset "
                                                    "(tiny, small, paper)."),
        click.option("--random-init", is_flag=True, help="Use random generator weights (needs --preset)."),
        click.option("--init-seed", type=int, default=0, show_default=True,
                     help="Seed of the random generator weights."),
    ]):
        fn = option(fn)
    return fn


def generator_source(ckpt, preset, random_init, init_seed, required: bool = True):
    from next3d.diffusion.generator_source import GeneratorSource

    if preset is not None and not random_init:
        raise BadInputError("--preset builds a generator with random weights: add --random-init (or give --ckpt)")
    if random_init and preset is None:
        raise BadInputError("--random-init needs --preset (tiny, small or paper)")
    if ckpt is not None and preset is not None:
        raise BadInputError("give either --ckpt or --preset with --random-init, not both")
    if ckpt is None and preset is None:
        if required:
            raise BadInputError("no generator: give --ckpt PATH (or --preset tiny --random-init)")
        return None
    return GeneratorSource(checkpoint=ckpt, preset=preset, init_seed=init_seed)


def parse_floats(text: str, name: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise BadInputError(f"{name} {text!r}: expected comma-separated numbers, e.g. 0,0.3,-0.3") from None
    if not values:
        raise BadInputError(f"{name}: no values given")
    return values


def parse_ranges(text: str | None, name: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    from next3d.capture.latents import parse_seeds

    try:
        return tuple(parse_seeds(text))
    except BadInputError:
        raise BadInputError(f"{name} {text!r}: expected numbers and ranges like 0-3,7") from None


def view_options(fn):
    for option in reversed([
        click.option("--yaw", default="0", show_default=True, help="Camera yaw(s) in radians, comma-separated."),
        click.option("--pitch", default="0", show_default=True, help="Camera pitch(es) in radians, comma-separated."),
        click.option("--labels", "labels_file", type=click.Path(dir_okay=False), default=None,
                     help="Cameras from a dataset.json-style labels file (replaces --yaw/--pitch)."),
        click.option("--expression-file", type=click.Path(dir_okay=False), default=None,
                     help="Head parameters .npz (the visualizer's expression sequence format); default: neutral."),
        click.option("--frames", default=None, help="Frames of --expression-file, e.g. 0-3,10 (default: all)."),
    ]):
        fn = option(fn)
    return fn


def view_spec(yaw, pitch, labels_file, expression_file, frames):
    from next3d.diffusion.views import ViewSpec

    return ViewSpec(parse_floats(yaw, "--yaw"), parse_floats(pitch, "--pitch"), labels_file, expression_file,
                    parse_ranges(frames, "--frames"))


@click.command("save-samples")
@generator_options
@click.option("--n", "count", type=int, required=True, help="Number of samples.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Latent store folder (created or resumed).")
@click.option("--latent", default="wplus", show_default=True, help="wplus, style or wplus,style.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sample i uses seed + i (the visualizer's seed).")
@click.option("--psi", type=float, default=0.7, show_default=True, help="Truncation psi (all rows unless --cutoff).")
@click.option("--cutoff", type=int, default=None, help="Truncate only the first N w rows.")
@click.option("--camera", type=click.Choice(["random", "frontal"]), default="random", show_default=True,
              help="random: FFHQ-like yaw/pitch.")
@click.option("--head", type=click.Choice(["neutral", "random"]), default="neutral", show_default=True)
@click.option("--image-res", type=int, default=None, help="Stored image side (default min(256, generator); 0: none).")
@click.option("--shard-size", type=int, default=1024, show_default=True)
@click.option("--batch", type=int, default=8, show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True)
@click.option("--device", default="auto", show_default=True)
def save_samples(ckpt, preset, random_init, init_seed, count, out, latent, seed, psi, cutoff, camera, head, image_res,
                 shard_size, batch, dtype, device):
    """Store latents, cameras, head parameters and images of generated avatars (resumable; under torchrun
    each rank writes its own shards)."""
    from next3d.diffusion.save_samples import SaveSamplesConfig
    from next3d.diffusion.save_samples import save_samples as run

    source = generator_source(ckpt, preset, random_init, init_seed)
    cfg = SaveSamplesConfig(out, count, tuple(k.strip() for k in latent.split(",")), seed, psi, cutoff, camera, head,
                            image_res, shard_size, batch, dtype, device)
    click.echo(f"latent store: {run(cfg, source)}")


@click.command("train-diffusion")
@click.option("--data", required=True, type=click.Path(file_okay=False), help="Latent store (save-samples).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder.")
@click.option("--latent", default=None, help="Latent field to model (default: the store's first).")
@click.option("--norm", type=click.Choice(["minmax", "meanstd"]), default="minmax", show_default=True)
@click.option("--steps", type=int, default=100_000, show_default=True)
@click.option("--batch", type=int, default=64, show_default=True, help="Per process.")
@click.option("--lr", type=float, default=1e-4, show_default=True)
@click.option("--ema", type=float, default=0.9999, show_default=True)
@click.option("--loss", type=click.Choice(["l1", "l2"]), default="l1", show_default=True)
@click.option("--weighting", type=click.Choice(["snr", "uniform"]), default="snr", show_default=True,
              help="snr: snr/(snr+1) per sample.")
@click.option("--width", type=int, default=512, show_default=True)
@click.option("--depth", type=int, default=12, show_default=True)
@click.option("--heads", type=int, default=8, show_default=True)
@click.option("--cond/--no-cond", default=False, show_default=True, help="Condition on the stored images.")
@click.option("--cond-dropout", type=float, default=0.2, show_default=True)
@click.option("--cond-res", type=int, default=64, show_default=True)
@click.option("--cond-channels", type=int, default=64, show_default=True)
@click.option("--cond-grid", type=int, default=16, show_default=True, help="Condition tokens = grid^2.")
@click.option("--cond-width", type=int, default=256, show_default=True)
@click.option("--snapshot-every", type=int, default=5000, show_default=True)
@click.option("--log-every", type=int, default=100, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", default=None, help="'latest' (this run's newest snapshot) or a snapshot file.")
@click.option("--device", default="auto", show_default=True)
def train_diffusion(data, out, latent, norm, steps, batch, lr, ema, loss, weighting, width, depth, heads, cond,
                    cond_dropout, cond_res, cond_channels, cond_grid, cond_width, snapshot_every, log_every, seed,
                    resume, device):
    """Train the latent diffusion prior (v-prediction, cosine schedule, EMA); multi-GPU through torchrun."""
    from next3d.diffusion.train import TrainConfig, train_prior

    for name, value in (("--steps", steps), ("--batch", batch), ("--snapshot-every", snapshot_every),
                        ("--log-every", log_every)):
        if value < 1:
            raise BadInputError(f"{name} {value}: must be >= 1")
    if not 0 <= cond_dropout < 1:
        raise BadInputError(f"--cond-dropout {cond_dropout}: must be in [0, 1)")
    cfg = TrainConfig(data, out, latent, norm, steps, batch, lr, (0.9, 0.99), 1.0, ema, loss, weighting, width, depth,
                      heads, cond, cond_dropout, cond_res, cond_channels, cond_grid, cond_width, snapshot_every,
                      log_every, seed, device, resume)
    state = train_prior(cfg)
    if state.last_snapshot:
        click.echo(f"snapshot: {state.last_snapshot}")


@click.command("sample-diffusion")
@click.option("--prior", required=True, help="Prior snapshot or train-diffusion run folder.")
@generator_options
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--n", type=int, default=4, show_default=True)
@click.option("--steps", type=int, default=50, show_default=True)
@click.option("--eta", type=float, default=0.0, show_default=True, help="DDIM noise (0: deterministic).")
@click.option("--cfg", "cfg_scale", type=float, default=1.0, show_default=True, help="Classifier-free guidance scale.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sample i uses seed + i.")
@click.option("--sampler", type=click.Choice(["ddim", "dpmsolver"]), default="ddim", show_default=True)
@click.option("--cond-image", type=click.Path(dir_okay=False), default=None,
              help="Condition image (conditional prior).")
@click.option("--cond-mask", type=click.Path(dir_okay=False), default=None,
              help="Known region of --cond-image (white).")
@click.option("--target", type=click.Path(dir_okay=False), default=None, help="Image guidance target.")
@click.option("--target-mask", type=click.Path(dir_okay=False), default=None, help="Region of --target that counts.")
@click.option("--guidance-scale", type=float, default=1.0, show_default=True)
@click.option("--guidance-res", type=int, default=256, show_default=True, help="Working size of the image loss.")
@click.option("--guidance-wrt", type=click.Choice(["x_t", "x0"]), default="x_t", show_default=True)
@click.option("--keep-rows", default=None, help="Latent rows to keep from --keep-from, e.g. 0-13.")
@click.option("--keep-from", default=None, help="Latents (.npz/.npy/store) whose first row supplies --keep-rows.")
@view_options
@click.option("--batch", type=int, default=8, show_default=True)
@click.option("--which", type=click.Choice(["prior_ema", "prior"]), default="prior_ema", show_default=True)
@click.option("--device", default="auto", show_default=True)
def sample_diffusion(prior, ckpt, preset, random_init, init_seed, out, n, steps, eta, cfg_scale, seed, sampler,
                     cond_image, cond_mask, target, target_mask, guidance_scale, guidance_res, guidance_wrt, keep_rows,
                     keep_from, yaw, pitch, labels_file, expression_file, frames, batch, which, device):
    """Sample latents from the prior and render them with the generator (first camera / head state); without a
    generator only the latents are written."""
    from next3d.diffusion.sample_job import SampleDiffusionConfig
    from next3d.diffusion.sample_job import sample_diffusion as run

    source = generator_source(ckpt, preset, random_init, init_seed, required=False)
    cfg = SampleDiffusionConfig(prior, out, n, steps, eta, cfg_scale, seed, sampler, cond_image, cond_mask, target,
                                target_mask, guidance_scale, guidance_res, guidance_wrt,
                                parse_ranges(keep_rows, "--keep-rows") or (), keep_from,
                                view_spec(yaw, pitch, labels_file, expression_file, frames), batch, which, device)
    click.echo(f"samples: {run(cfg, source)}")


@click.command("gen-from-latents")
@click.option("--latents", required=True, help="Latent store folder, .npy (N, L, D) or .npz (latents / w / style).")
@generator_options
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--kind", type=click.Choice(["wplus", "style"]), default=None,
              help="Latent kind / store field (default: from the file, else from the shape).")
@click.option("--indices", default=None, help="Rows to render, e.g. 0-9,20 (default: all).")
@view_options
@click.option("--grid", is_flag=True, help="Also write grid.png (rows: latents; columns: expressions x cameras).")
@click.option("--batch", type=int, default=4, show_default=True)
@click.option("--device", default="auto", show_default=True)
def gen_from_latents(latents, ckpt, preset, random_init, init_seed, out, kind, indices, yaw, pitch, labels_file,
                     expression_file, frames, grid, batch, device):
    """Render saved latents with chosen cameras and expressions (PNG per latent, camera and head state)."""
    from next3d.diffusion.render_latents import RenderLatentsConfig, render_latents

    source = generator_source(ckpt, preset, random_init, init_seed)
    cfg = RenderLatentsConfig(latents, out, kind, parse_ranges(indices, "--indices"),
                              view_spec(yaw, pitch, labels_file, expression_file, frames), grid, batch, device)
    paths = render_latents(cfg, source)
    click.echo(f"wrote {len(paths)} image(s) to {out}")
