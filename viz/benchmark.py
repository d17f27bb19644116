"""GUI smoothness while the renderer is busy: `xvfb-run -a python -m viz.benchmark [--worker both]`.

First the GUI is timed with nothing to render (the window's own drawing cost), then the camera orbits (so
every frame asks for a new render) with renders made slow on purpose (neural resolution and depth samples
up). Prints one JSON line per worker mode: idle and busy GUI fps, busy ms percentiles, renders shown, render ms.
"""

from __future__ import annotations

import json
import time

import click
import numpy as np


def measure(worker: str, frames: int, checkpoint: str, neural_res_index: int, depth_mult: float) -> dict:
    import tempfile

    from viz.app import App, AppOptions

    with tempfile.TemporaryDirectory() as config:
        app = App(AppOptions(checkpoint=checkpoint, config_dir=config, use_process=worker == "process",
                             restore=False, vsync=False, window_size=(1280, 800)))
        try:
            app.render_until_idle(max_frames=100000, timeout_s=600)  # model loaded, first frame shown
            idle_ms = []
            for _ in range(min(frames, 200)):  # baseline: nothing to render
                start = time.perf_counter()
                app.step()
                idle_ms.append((time.perf_counter() - start) * 1e3)
            app.render_type.neural_res_index, app.render_type.depth_mult = neural_res_index, depth_mult
            app.camera.orbit = True
            gui_ms, renders, render_ms = [], 0, []
            for _ in range(frames):
                start = time.perf_counter()
                app.step()
                gui_ms.append((time.perf_counter() - start) * 1e3)
                if app.result is not None and app.result.stamp != renders and not app.result.error:
                    renders = app.result.stamp
                    render_ms.append(app.result.total_ms)
            gui = np.asarray(gui_ms)
            return {"worker": worker, "checkpoint": checkpoint, "gui_frames": frames,
                    "idle_gui_fps": round(1000.0 / float(np.mean(idle_ms)), 1),
                    "gui_fps": round(1000.0 / gui.mean(), 1), "gui_ms_p50": round(float(np.percentile(gui, 50)), 2),
                    "gui_ms_p95": round(float(np.percentile(gui, 95)), 2), "gui_ms_max": round(float(gui.max()), 2),
                    "renders_shown": len(render_ms),
                    "render_ms_mean": round(float(np.mean(render_ms)), 1) if render_ms else None,
                    "error": app.error}
        finally:
            app.close()


@click.command()
@click.option("--worker", type=click.Choice(["process", "thread", "both"]), default="both", show_default=True)
@click.option("--frames", type=int, default=600, show_default=True, help="GUI frames to time per mode.")
@click.option("--ckpt", default="builtin:tiny-random", show_default=True)
@click.option("--neural-res-index", type=int, default=3, show_default=True,
              help="Index into the render panel's resolutions (default, 32, 64, 128, 256): 3 = 128 (slow on CPU).")
@click.option("--depth-mult", type=float, default=2.0, show_default=True)
def main(worker, frames, ckpt, neural_res_index, depth_mult) -> None:
    """Time GUI frames while slow renders run, per worker mode."""
    for mode in (["process", "thread"] if worker == "both" else [worker]):
        print(json.dumps(measure(mode, frames, ckpt, neural_res_index, depth_mult)), flush=True)


if __name__ == "__main__":
    main()
