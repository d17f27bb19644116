"""Helpers for GUI tests: a private Xvfb display, an app factory, scripted mouse drags, canvas pixels.

Import the `xvfb_display` fixture into a test module (`from gui_support import xvfb_display`); tests that
use it are skipped with a clear reason when Xvfb is not installed.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

SCREEN = "1280x800x24"


def _start_xvfb() -> tuple[subprocess.Popen, int]:
    """Start Xvfb on a display number it picks itself (-displayfd: no races with other sessions' servers)."""
    read_fd, write_fd = os.pipe()
    log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server must never block on a full pipe
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", SCREEN, "-nolisten", "tcp",
                             "-noreset"],  # no server reset when the last client (an app under test) leaves
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=log)
    os.close(write_fd)
    text = b""
    deadline = time.monotonic() + 20
    with os.fdopen(read_fd, "rb") as pipe:
        while not text.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([pipe], [], [], 0.2)
            if ready:
                chunk = os.read(pipe.fileno(), 16)
                if not chunk:
                    break
                text += chunk
    if not text.strip().isdigit():
        proc.kill()
        log.seek(0)
        pytest.skip(f"Xvfb did not start: {log.read().decode(errors='replace')[-300:]}")
    return proc, int(text)


@pytest.fixture(scope="session")
def xvfb_display():
    """Start a private Xvfb for the test session, point DISPLAY at it, stop it afterwards."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt install xvfb); GUI tests need a virtual display")
    proc, number = _start_xvfb()
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{number}"
    try:
        yield f":{number}"
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def make_app(config_dir: Path, checkpoint: str = "builtin:tiny-random", use_process: bool = False,
             restore: bool = False, size=(960, 640)):
    from viz.app import App, AppOptions

    options = AppOptions(checkpoint=checkpoint, config_dir=config_dir, use_process=use_process, restore=restore,
                         vsync=False, window_size=size)
    app = App(options)
    app.fps_limit = 1000
    return app


def canvas_center(app) -> tuple[float, float]:
    (x0, y0), (x1, y1) = app.canvas.image_rect
    return (x0 + x1) / 2, (y0 + y1) / 2


def drag(app, start: tuple[float, float], delta: tuple[float, float], steps: int = 8, button: int = 0) -> None:
    """Press at `start`, move by `delta` in `steps` frames, release: real imgui input events, one per frame."""
    win = app.window
    win.queue_input(lambda io: io.add_mouse_pos_event(*start))
    win.queue_input(lambda io: io.add_mouse_button_event(button, True))
    for i in range(1, steps + 1):
        x, y = start[0] + delta[0] * i / steps, start[1] + delta[1] * i / steps
        win.queue_input(lambda io, x=x, y=y: io.add_mouse_pos_event(x, y))
    win.queue_input(lambda io: io.add_mouse_button_event(button, False))
    for _ in range(steps + 4):
        app.step()


def canvas_pixels(app) -> np.ndarray:
    """A screenshot of the canvas picture (framebuffer pixels)."""
    return app.canvas_pixels(app.screenshot()).astype(np.int16)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return float(np.abs(a[:h, :w] - b[:h, :w]).mean())


def count_color(image: np.ndarray, rgb, tol: int = 12) -> int:
    return int((np.abs(image.astype(np.int16) - np.asarray(rgb, np.int16)).max(axis=-1) <= tol).sum())


def save_random_prior(path: Path, shape: tuple[int, int] | None = None, seeds: int = 8) -> Path:
    """A randomly initialised W+ prior (a one-block denoiser) for the tiny built-in model, saved as a prior file.

    Its normalizer spans the mapped latents of `seeds` seeds, so samples land among real latents; the zero-initialised
    output layers get small random weights so that different seeds give different candidates. `shape` overrides the
    latent shape (a prior that does not fit)."""
    import torch

    from next3d.capture.latents import z_from_seed
    from next3d.capture.render_args import BUILTIN_TINY
    from next3d.capture.renderer import load_model
    from next3d.diffusion.denoiser import DenoiserConfig
    from next3d.diffusion.normalization import LatentNormalizer
    from next3d.diffusion.prior import PRIOR_KIND, LatentPrior, PriorConfig
    from next3d.io.checkpoint import save_checkpoint
    from next3d.render.camera import DEFAULT_FOCAL, intrinsics, make_label, orbit_pose

    G = load_model(BUILTIN_TINY, torch.device("cpu")).generator
    z = torch.from_numpy(np.stack([z_from_seed(s, G.z_dim) for s in range(seeds)]))
    c = make_label(orbit_pose(0.0, 0.0), intrinsics(DEFAULT_FOCAL, batch=1)).expand(seeds, -1)
    with torch.no_grad():
        ws = G.mapping(z, c, truncation_psi=0.7)
    low, high = ws.amin(0), ws.amax(0)
    center, scale = (high + low) / 2, ((high - low) / 2).clamp_min(1e-3)
    if shape is not None:
        center, scale = torch.zeros(shape), torch.ones(shape)
    seq_len, token_dim = center.shape
    cfg = PriorConfig("wplus", "minmax", DenoiserConfig(seq_len, token_dim, width=32, depth=1, heads=2),
                      source={"generator": {"checkpoint": BUILTIN_TINY}})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        prior = LatentPrior(cfg, LatentNormalizer(center, scale, "minmax"))
        with torch.no_grad():
            for layer in (prior.denoiser.out_modulation, prior.denoiser.out):
                layer.weight.normal_(0.0, 0.05)
    save_checkpoint(path, {"prior": prior, "prior_ema": prior}, {"kind": PRIOR_KIND, "prior_config": cfg.to_dict()})
    return path


def wait_for_job(app, job, timeout_s: float = 120.0) -> int:
    """Step frames until a background job finishes (and one more frame collects it); returns frames drawn."""
    deadline = time.monotonic() + timeout_s
    frames = 0
    while not job.finished:
        app.step()
        frames += 1
        if time.monotonic() > deadline:
            raise TimeoutError(f"{job.name} did not finish in {timeout_s:.0f} s")
        time.sleep(0.02)  # leave the CPU to the job between frames
    app.step()
    return frames + 1
