"""`python -m next3d video`: turntable and expression-sequence videos without a window."""

from __future__ import annotations

from pathlib import Path

import click

from next3d.cli.render import base_args, check_head_sizes, common_options


@click.command("video")
@common_options
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--kind", type=click.Choice(["turntable", "expression"]), default="turntable", show_default=True)
@click.option("--frames", type=int, default=None, help="Turntable frames  [default: 120]")
@click.option("--seconds", type=float, default=None, help="Turntable length instead of --frames.")
@click.option("--fps", type=float, default=None, help="[default: 30, or the expression file's fps]")
@click.option("--yaw-amp", type=float, default=0.6, show_default=True, help="Turntable yaw swing (radians).")
@click.option("--pitch-amp", type=float, default=0.2, show_default=True, help="Turntable pitch swing (radians).")
@click.option("--expression-file", type=click.Path(dir_okay=False), default=None,
              help="Head parameters per frame (.npz); required for --kind expression.")
@click.option("--loops", type=int, default=1, show_default=True, help="Times to play the expression sequence.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .mp4 file.")
def video(ckpt, state, psi, cutoff, yaw, pitch, radius, roll, fov_deg, render_type, show_mesh, show_landmarks,
          device, seed, kind, frames, seconds, fps, yaw_amp, pitch_amp, expression_file, loops, out) -> None:
    """Record an mp4 (H.264): a turntable around the head, or an expression sequence."""
    from tqdm import tqdm

    from next3d.capture.jobs import record_video, sequence_args, turntable_args
    from next3d.capture.orbit import frames_for
    from next3d.capture.renderer import Renderer
    from next3d.capture.sequence import load_head_sequence
    from next3d.errors import BadInputError

    if Path(out).suffix.lower() != ".mp4":
        raise BadInputError(f"--out {out}: videos are written as .mp4")
    args = base_args(ckpt, state, device, psi, render_type, yaw=yaw, pitch=pitch, radius=radius, roll=roll,
                     fov_deg=fov_deg, show_mesh=show_mesh, show_landmarks=show_landmarks)
    if cutoff is not None:
        args = args.with_(cutoff=cutoff)
    if not state or seed != 0:
        args = args.with_(latent_x=float(seed), latent_y=0.0)
    if kind == "turntable":
        fps = fps or 30.0
        count = frames_for(seconds, fps, frames if frames is not None or seconds is not None else 120)
        frame_args = turntable_args(args, count, yaw_amp, pitch_amp)
    else:
        if not expression_file:
            raise BadInputError("--kind expression needs --expression-file (an .npz of per-frame head parameters)")
        if frames is not None or seconds is not None:
            raise BadInputError("--kind expression takes its length from the sequence; use --loops, not --frames")
        sequence = load_head_sequence(expression_file)
        fps = fps or sequence.fps
        frame_args = sequence_args(args, sequence, loops)
    renderer = Renderer(device=device)
    facts = renderer.facts(args)  # load and check before the progress bar: one line on failure
    if frame_args:
        check_head_sizes(frame_args[0], facts)
    with tqdm(total=len(frame_args), desc=kind, unit="frame") as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        path = record_video(renderer.render_image, frame_args, out, fps, progress)
    click.echo(f"wrote {path} ({len(frame_args)} frames, {fps:g} fps)")
