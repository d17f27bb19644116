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
