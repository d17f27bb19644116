"""GUI fuzz under Xvfb: thousands of frames of random widget values, random clicks and drags anywhere in the
window, and a broken checkpoint loaded mid-way. The app must keep running and show the error in the canvas."""

import math

import numpy as np
import pytest
from gui_support import (
    make_app,
    xvfb_display,  # noqa: F401  (the fixture, used below)
)

from next3d.capture.render_args import BUILTIN_TINY, RENDER_TYPES

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("xvfb_display")]
FRAMES = 2000


def _random_widget_values(app, rng) -> None:
    choice = rng.randint(9)
    if choice == 0:
        app.camera.yaw, app.camera.pitch = rng.uniform(-4, 4), rng.uniform(-2, 2)
        app.camera.radius, app.camera.roll = rng.uniform(0.5, 8), rng.uniform(-4, 4)
    elif choice == 1:
        app.camera.fov_deg = float(rng.choice([1.0, 18.837, 45.0, 120.0]))
        app.camera.cond_mode = rng.randint(3)
        app.camera.orbit = bool(rng.rand() < 0.3)
    elif choice == 2:
        app.latent.x, app.latent.y = rng.uniform(0, 50), rng.uniform(0, 3)
        app.latent.psi = rng.uniform(-1, 2)
        app.latent.cutoff_on, app.latent.cutoff = bool(rng.rand() < 0.5), rng.randint(0, 40)
    elif choice == 3:
        app.latent.mix_on, app.latent.mix_seed = bool(rng.rand() < 0.5), rng.randint(0, 1000)
        app.latent.mix_start, app.latent.mix_stop = sorted(rng.randint(0, 40, size=2))
    elif choice == 4 and app.expression.values:
        n = len(app.expression.values)
        app.expression.values = list(rng.uniform(-3, 3, size=n))
        app.expression.jaw_open, app.expression.gaze_yaw = rng.uniform(-1, 1), rng.uniform(-1, 1)
    elif choice == 5:
        app.render_type.type_index = rng.randint(len(RENDER_TYPES))
        app.render_type.show_mesh, app.render_type.show_landmarks = bool(rng.rand() < 0.3), bool(rng.rand() < 0.3)
    elif choice == 6:
        app.render_type.neural_res_index = rng.randint(3)  # keep the CPU cost down: default, 32, 64
        app.render_type.depth_mult = float(rng.choice([0.25, 0.5, 1.0]))
        app.render_type.depth_importance_mult = float(rng.choice([0.0, 1.0]))
    elif choice == 7:
        app.performance.precision_index = rng.randint(2)
        app.performance.stage_cache = bool(rng.rand() < 0.7)
    else:
        app.open_headers[rng.choice([w.title for w in app.widgets])] = bool(rng.rand() < 0.5)


def _random_input(app, rng) -> None:
    width, height = app.window.window_size
    x, y = rng.uniform(0, width), rng.uniform(0, height)
    win = app.window
    kind = rng.randint(3)
    win.queue_input(lambda io: io.add_mouse_pos_event(x, y))
    if kind == 0:  # click
        win.queue_input(lambda io: io.add_mouse_button_event(0, True))
        win.queue_input(lambda io: io.add_mouse_button_event(0, False))
    elif kind == 1:  # drag (left or right button)
        button = int(rng.randint(2))
        dx, dy = rng.uniform(-200, 200, size=2)
        win.queue_input(lambda io: io.add_mouse_button_event(button, True))
        for i in range(1, 4):
            win.queue_input(lambda io, i=i: io.add_mouse_pos_event(x + dx * i / 3, y + dy * i / 3))
        win.queue_input(lambda io: io.add_mouse_button_event(button, False))
    else:  # wheel
        win.queue_input(lambda io: io.add_mouse_wheel_event(0.0, float(rng.uniform(-3, 3))))


def test_random_frames_and_a_bad_checkpoint_never_stop_the_app(tmp_path):
    bad = tmp_path / "corrupt.safetensors"
    bad.write_bytes(b"\x00" * 64)
    app = make_app(tmp_path / "config", size=(800, 560))
    app.capture.out_dir = str(tmp_path / "captures")
    app.capture.frames = 4
    rng = np.random.RandomState(7)
    errors_seen: set[str] = set()
    try:
        for frame in range(FRAMES):
            if frame == FRAMES // 3:
                app.checkpoint.load(str(bad))
            if frame == 2 * FRAMES // 3:
                app.checkpoint.load(BUILTIN_TINY)
            if rng.rand() < 0.15:
                _random_widget_values(app, rng)
            if rng.rand() < 0.1:
                _random_input(app, rng)
            app.renderer.set_use_process(False)  # a random click may tick "worker process": keep the test fast
            app.step()
            if app.canvas.error_drawn:
                errors_seen.add(app.canvas.error_drawn)
            assert all(math.isfinite(v) for v in (app.camera.yaw, app.camera.pitch, app.latent.x, app.latent.y))
        assert any("corrupt.safetensors" in e for e in errors_seen)
        app.capture.cancel_job()
        # back to sane values: the model renders again, nothing is left broken
        app.camera.reset()
        app.camera.orbit = app.latent.animate = app.expression.playing = False
        app.latent.psi, app.latent.mix_on = 0.7, False
        app.render_type.type_index, app.render_type.neural_res_index = 0, 0
        app.render_type.depth_mult = app.render_type.depth_importance_mult = 1.0
        app.render_until_idle()
        assert app.error == "" and app.image_result.args.checkpoint == BUILTIN_TINY
        assert app.frame_index >= FRAMES
    finally:
        app.close()
