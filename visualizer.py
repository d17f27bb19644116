"""Next3D Studio: `python visualizer.py [CHECKPOINT]` opens a window that renders heads live.

CHECKPOINT is a .safetensors file, a training run directory (its latest snapshot) or `builtin:tiny-random`;
without it the shipped default model (assets/models/next3d_default.safetensors) opens (the Checkpoint panel
lists recent ones). No display? Use `xvfb-run -a python visualizer.py`, or the headless commands
`python -m next3d render|video`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run from anywhere without installing

NO_GL_HINT = ("install OpenGL (e.g. `apt install libgl1 libegl1` or Mesa), or run without a window: "
              "`python -m next3d render ...` / `python -m next3d video ...`")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("checkpoint", required=False)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")
@click.option("--worker", type=click.Choice(["process", "thread"]), default=None,
              help="Render in a worker process (smoothest GUI on the CPU) or a thread (fewer copies: the fastest "
                   "frames on a GPU); default: your last choice, else thread on a GPU and process on the CPU.")
@click.option("--fresh", is_flag=True, help="Ignore the saved layout and widget values of the last session.")
@click.option("--config-dir", type=click.Path(file_okay=False), default=None,
              help="Where layout and state are kept (default ~/.config/next3d-studio).")
@click.option("--frames", type=int, default=None,
              help="Quit after this many frames once the first picture is shown (scripted runs, smoke tests).")
@click.option("--screenshot", type=click.Path(dir_okay=False), default=None,
              help="With --frames: save the whole window as PNG before quitting.")
@click.option("--debug", is_flag=True, help="Verbose logging.")
def main(checkpoint, device, worker, fresh, config_dir, frames, screenshot, debug) -> None:
    """Open the Next3D Studio visualizer."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("OpenGL").setLevel(logging.WARNING)
    try:
        from gui_utils.window import DisplayUnavailableError, check_display

        check_display()  # before the heavy imports, so the answer comes at once
        from viz.app import App, AppOptions
    except DisplayUnavailableError as exc:
        raise SystemExit(f"error: {exc}")
    except ImportError as exc:  # e.g. PyOpenGL without a libGL on the machine
        raise SystemExit(f"error: cannot load the GUI libraries ({exc}); {NO_GL_HINT}")
    options = AppOptions(checkpoint=checkpoint, device=device, restore=not fresh,
                         use_process=None if worker is None else worker == "process")
    if config_dir:
        options.config_dir = Path(config_dir)
    try:
        app = App(options)
    except DisplayUnavailableError as exc:
        raise SystemExit(f"error: {exc}")
    try:
        if frames is None:
            app.run()
        else:
            app.render_until_idle(max_frames=1_000_000, timeout_s=600)
            app.run(max_frames=app.frame_index + frames)
            if screenshot:
                from next3d.capture.jobs import save_png

                save_png(screenshot, app.screenshot())
                click.echo(f"saved {screenshot}")
    finally:
        app.close()


if __name__ == "__main__":
    main()
