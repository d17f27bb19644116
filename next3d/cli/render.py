"""`python -m next3d render`: still images without a window (the visualizer's headless twin)."""

from __future__ import annotations

from pathlib import Path

import click

from next3d.capture.render_args import BUILTIN_PREFIX, RENDER_TYPES, RenderArgs

CKPT_HELP = ("A .safetensors checkpoint, a training run directory (latest snapshot), 'builtin' (the embedded "
             "default model) or 'builtin:tiny-random'.")


def resolve_ckpt(ckpt: str) -> str:
    from next3d.capture.renderer import default_checkpoint

    if ckpt == "builtin":
        return default_checkpoint()
    return ckpt if ckpt.startswith(BUILTIN_PREFIX) else str(Path(ckpt).expanduser())


def base_args(ckpt: str | None, state: str | None, device: str, psi: float | None, render_type: str,
              **camera) -> RenderArgs:
    """RenderArgs from a saved view state (if any) overridden by the options the user gave."""
    from next3d.capture.state import load_state

    args = RenderArgs(device=device, render_type=render_type)
    if state:
        args = load_state(state, args, use_checkpoint=True)
    if ckpt is not None or not state:
        args = args.with_(checkpoint=resolve_ckpt(ckpt or "builtin"))
    if psi is not None:
        args = args.with_(psi=psi)
    args = args.with_(**{k: v for k, v in camera.items() if v is not None})
    args.check()
    return args


def check_head_sizes(args: RenderArgs, facts) -> None:
    """Refuse head values the model's head cannot take before any progress output (one clear line)."""
    from next3d.errors import BadInputError

    sizes = {"shape": facts.num_shape, "expression": len(facts.expression_names)}
    for name, values in args.head_values().items():
        if name in sizes and len(values) > sizes[name]:
            raise BadInputError(f"head {name}: {len(values)} values given, head model '{facts.head_name}' "
                                f"has {sizes[name]}")


def common_options(fn):
    """Options shared by `render` and `video`."""
    for option in reversed([
        click.option("--ckpt", default=None, help=CKPT_HELP + "  [default: builtin]"),
        click.option("--state", type=click.Path(dir_okay=False), default=None,
                     help="Start from a view state saved by the visualizer (.json/.npz); options override it."),
        click.option("--psi", type=float, default=None, help="Truncation psi  [default: 0.7]"),
        click.option("--cutoff", type=int, default=None, help="Truncate only the first N w rows."),
        click.option("--yaw", type=float, default=None, help="Camera yaw in radians (> 0: subject's left)."),
        click.option("--pitch", type=float, default=None, help="Camera pitch in radians (> 0: from above)."),
        click.option("--radius", type=float, default=None, help="Camera distance  [default: 2.7]"),
        click.option("--roll", type=float, default=None, help="Camera roll in radians."),
        click.option("--fov", "fov_deg", type=float, default=None, help="Field of view in degrees  [default: 18.837]"),
        click.option("--render-type", type=click.Choice(RENDER_TYPES), default="image", show_default=True),
        click.option("--mesh", "show_mesh", is_flag=True, default=None, help="Draw the head mesh over the picture."),
        click.option("--landmarks", "show_landmarks", is_flag=True, default=None, help="Draw the landmarks."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N"),
    ]):
        fn = option(fn)
    return fn


@click.command("render")
@common_options
@click.option("--seeds", default="0", show_default=True, help="Seeds, e.g. 0-3,7.")
@click.option("--expression-file", type=click.Path(dir_okay=False), default=None,
              help="Head parameters (.npz, as the visualizer plays them); --frame picks the frame.")
@click.option("--frame", type=int, default=0, show_default=True, help="Frame of --expression-file to use.")
@click.option("--save-state", is_flag=True, help="Also write each image's view state (.json) beside it.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
def render(ckpt, state, psi, cutoff, yaw, pitch, radius, roll, fov_deg, render_type, show_mesh, show_landmarks,
           device, seeds, expression_file, frame, save_state, out) -> None:
    """Render one PNG per seed (seedNNNN.png) with the same pipeline as the visualizer."""
    from tqdm import tqdm

    from next3d.capture.jobs import save_png
    from next3d.capture.latents import parse_seeds
    from next3d.capture.renderer import Renderer
    from next3d.capture.sequence import load_head_sequence
    from next3d.capture.state import save_state as write_state
    from next3d.errors import BadInputError

    seed_list = parse_seeds(seeds)
    args = base_args(ckpt, state, device, psi, render_type, yaw=yaw, pitch=pitch, radius=radius, roll=roll,
                     fov_deg=fov_deg, show_mesh=show_mesh, show_landmarks=show_landmarks)
    if cutoff is not None:
        args = args.with_(cutoff=cutoff)
    if expression_file:
        sequence = load_head_sequence(expression_file)
        if not 0 <= frame < len(sequence):
            raise BadInputError(f"--frame {frame}: {expression_file} has {len(sequence)} frames")
        args = sequence.apply(args, frame)
    renderer = Renderer(device=device)
    check_head_sizes(args, renderer.facts(args))  # load and check before the progress bar: one line on failure
    out_dir = Path(out)
    for seed in tqdm(seed_list, desc="render", unit="image"):
        seed_args = args.with_(latent_x=float(seed), latent_y=0.0, latent_file="")
        path = save_png(out_dir / f"seed{seed:04d}.png", renderer.render_image(seed_args))
        if save_state:
            write_state(path.with_suffix(".json"), seed_args)
    click.echo(f"wrote {len(seed_list)} image(s) to {out_dir}")
