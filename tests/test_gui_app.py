"""The real visualizer under Xvfb (Mesa GL) with the tiny random model: it renders a head, the picture follows
synthetic drags and expression changes, and captures (turntable mp4, image, state) work from the GUI."""

import json
import math

import numpy as np
import pytest
from gui_support import (
    canvas_center,
    canvas_pixels,
    drag,
    make_app,
    mean_abs_diff,
    xvfb_display,  # noqa: F401  (the fixture, used below)
)

from next3d.capture.video import read_mp4

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("xvfb_display")]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("config"))
    app.capture.out_dir = str(tmp_path_factory.mktemp("captures"))
    app.render_until_idle()
    yield app
    app.close()


def _shown_picture(app) -> np.ndarray:
    """The canvas screenshot sampled back to the render's resolution (the canvas zooms by an integer factor)."""
    pixels = canvas_pixels(app)
    h, w = app.image_result.image.shape[:2]
    rows = ((np.arange(h) + 0.5) * pixels.shape[0] / h).astype(int)
    cols = ((np.arange(w) + 0.5) * pixels.shape[1] / w).astype(int)
    return pixels[rows][:, cols]


def test_canvas_shows_the_rendered_head(app):
    assert app.error == "" and app.image_result is not None
    assert app.model.random_weights and app.model.expressions_named  # tiny built-in: 52 named expressions
    assert app.checkpoint.recent[0] == "builtin:tiny-random"  # a model that rendered joins the recent list
    shown = _shown_picture(app)
    assert canvas_pixels(app).shape[0] >= 3 * app.model.img_resolution  # enlarged to fill the canvas
    assert np.abs(shown - app.image_result.image.astype(np.int16)).mean() < 2.0  # the canvas is the render
    inner = shown[8:-8, 8:-8].reshape(-1, 3)
    assert inner.std(axis=0).max() > 1.0  # a picture with structure, not a flat fill


def test_dragging_on_the_canvas_turns_the_head(app):
    before = canvas_pixels(app)
    yaw0 = app.camera.yaw
    drag(app, canvas_center(app), (120.0, 0.0))
    assert app.camera.yaw < yaw0 - 0.1  # dragging right turns the face to the viewer's right
    app.render_until_idle()
    assert app.result.stages_ran == ("camera",)  # a camera-only change re-ran only the camera stage
    assert mean_abs_diff(canvas_pixels(app), before) > 2.0


def test_opening_the_jaw_changes_the_mouth_region(app):
    app.camera.reset()
    app.render_until_idle()
    before = _shown_picture(app)
    app.expression.jaw_open = math.radians(25)
    app.render_until_idle()
    assert app.args.jaw[0] == pytest.approx(math.radians(25))
    assert "head" in app.result.stages_ran and "latent" not in app.result.stages_ran
    change = np.abs(_shown_picture(app) - before).sum(axis=2).astype(float)
    h, w = change.shape
    mouth = change[int(0.5 * h):int(0.75 * h), int(0.35 * w):int(0.65 * w)].mean()
    forehead = change[int(0.1 * h):int(0.3 * h), int(0.35 * w):int(0.65 * w)].mean()
    assert mouth > 1.0 and mouth > 3 * forehead  # the change is where the mouth is
    opened = _shown_picture(app)
    app.expression.apply_preset("Smile")
    app.render_until_idle()
    assert app.args.expression[app.model.expression_names.index("mouthSmileLeft")] == pytest.approx(0.9)
    assert np.abs(_shown_picture(app) - opened).mean() > 0.05
    app.expression.reset()
    app.render_until_idle()


def test_nothing_is_rendered_while_nothing_changes(app):
    app.render_until_idle()
    stamp = app.renderer.submitted_stamp
    for _ in range(50):
        app.step()
    assert app.renderer.submitted_stamp == stamp and not app.renderer.pending


def test_turntable_capture_from_the_gui_writes_a_readable_mp4(app, tmp_path):
    app.capture.frames, app.capture.fps, app.capture.yaw_amp_deg = 6, 12, 40.0
    app.open_headers["Capture"] = True
    job = app.capture.record_turntable(tmp_path / "turntable.mp4")
    fractions = []
    while not job.finished:
        app.step()  # the GUI keeps drawing (with a progress bar) while the job runs
        fractions.append(job.fraction)
    app.step()
    assert job.error == "" and job.output == tmp_path / "turntable.mp4"
    assert max(fractions) > 0 and job.fraction == 1.0
    frames, fps = read_mp4(job.output)
    size = app.image_result.image.shape[:2]
    assert frames.shape[0] == 6 and fps == pytest.approx(12) and frames.shape[1:3] == size
    assert np.abs(frames[0].astype(int) - frames[2].astype(int)).mean() > 1.0  # the camera moved


def test_save_image_gui_and_state_round_trip(app, tmp_path):
    app.capture.out_dir = str(tmp_path)
    image_path = app.capture.save_image()
    app.capture.save_gui()
    app.step()
    app.step()
    assert image_path.is_file() and len(list(tmp_path.glob("gui-*.png"))) == 1
    app.camera.yaw, app.latent.x = 0.3, 5.0
    app.step()  # widgets write the frame's args
    state_path = app.capture.save_state(str(tmp_path / "view.json"))
    assert len(json.loads(state_path.read_text())["camera"]["label"]) == 25
    app.camera.yaw, app.latent.x = -0.2, 9.0
    assert app.capture.load_state(str(state_path))
    assert app.camera.yaw == pytest.approx(0.3, abs=1e-5) and app.latent.x == 5.0
    app.step()
    assert app.args.yaw == pytest.approx(0.3, abs=1e-5)


def test_render_types_and_overlays_all_draw_something(app):
    for name in ("raw", "depth", "alpha", "texture", "planes", "image"):
        app.render_type.set_render_type(name)
        app.render_until_idle()
        assert app.error == "", name
        assert app.image_result.image.std() > 1.0, name
    app.render_type.show_mesh = app.render_type.show_landmarks = True
    app.render_until_idle()
    assert app.error == ""
    app.render_type.show_mesh = app.render_type.show_landmarks = False


def test_dropped_sequence_plays_in_a_loop_and_records(app, tmp_path):
    from next3d.capture.sequence import save_head_sequence

    jaw = np.zeros((4, 3))
    jaw[:, 0] = [0.0, 0.15, 0.3, 0.45]
    save_head_sequence(tmp_path / "talk.npz", {"jaw": jaw}, fps=30)
    app._on_drop(None, [str(tmp_path / "talk.npz")])  # what glfw calls on drag-and-drop
    assert app.expression.playing and len(app.expression.sequence) == 4
    seen = set()
    for _ in range(40):
        app.step()
        seen.add(round(app.args.jaw[0], 3))
    assert seen <= {0.0, 0.15, 0.3, 0.45} and len(seen) >= 3  # frames of the file, advancing (and looping)
    job = app.capture.record_expression(tmp_path / "talk.mp4")
    while not job.finished:
        app.step()
    assert job.error == ""
    frames, fps = read_mp4(tmp_path / "talk.mp4")
    assert frames.shape[0] == 4 and fps == pytest.approx(30)
    app.expression.playing, app.expression.seq_time = False, 0.0
    app.step()
    assert app.args.jaw == (0.0, 0.0, 0.0)  # stopped: the sliders' values again


def test_dropping_a_state_file_restores_the_view(app, tmp_path):
    from next3d.capture.render_args import RenderArgs
    from next3d.capture.state import save_state

    save_state(tmp_path / "view.npz", RenderArgs(latent_x=8.0, yaw=-0.25, fov_deg=25.0))
    app._on_drop(None, [str(tmp_path / "view.npz")])
    app.step()
    assert app.args.latent_x == 8.0 and app.args.yaw == pytest.approx(-0.25, abs=1e-5)
    assert app.args.fov_deg == pytest.approx(25.0, abs=1e-4)
    app._on_drop(None, [str(tmp_path / "notes.txt")])
    app.step()  # an unknown file type is a message on the canvas, nothing else
    assert app.args.latent_x == 8.0
