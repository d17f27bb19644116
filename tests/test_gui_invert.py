"""The Invert action under Xvfb with the tiny random model: the canvas shows the fit while it runs, the fitted
latent and camera become the current avatar, pivotal tuning gives a labelled in-memory model that can be saved,
and a non-image or flat photo is an error drawn in the canvas while the app keeps running."""

import time

import numpy as np
import pytest
from gui_support import (
    canvas_pixels,
    count_color,
    make_app,
    mean_abs_diff,
    wait_for_job,
    xvfb_display,  # noqa: F401  (the fixture, used below)
)

from next3d.capture.jobs import save_png
from next3d.capture.memory_models import MEMORY_PREFIX
from viz.canvas import ERROR_BOX_RGBA

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("xvfb_display")]


def _photo(size: int = 96) -> np.ndarray:
    """A picture with a head-like blob: skin ellipse, dark hair cap, two eyes, on a bluish gradient."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.stack([60 + 40 * yy, 90 + 30 * xx, 140 + 50 * yy], -1)
    face = ((xx - 0.5) / 0.28) ** 2 + ((yy - 0.55) / 0.36) ** 2 < 1
    image[face] = (200, 150, 120)
    image[face & (yy < 0.35)] = (50, 35, 25)
    for eye_x in (0.4, 0.6):
        image[((xx - eye_x) ** 2 + (yy - 0.5) ** 2) < 0.0015] = (30, 30, 40)
    return image.astype(np.uint8)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("config"))
    for title in app.open_headers:
        app.open_headers[title] = title == "Invert (photo to avatar)"
    app.capture.out_dir = str(tmp_path_factory.mktemp("captures"))
    app.render_until_idle()
    yield app
    app.close()


def test_inversion_shows_its_progress_and_ends_with_the_inverted_latent(app, tmp_path):
    save_png(tmp_path / "photo.png", _photo())
    before = canvas_pixels(app)
    app.invert.steps, app.invert.pti = 6, False
    job = app.invert.start(str(tmp_path / "photo.png"))
    pictures, live_shots = set(), []
    while not job.finished:
        app.step()
        time.sleep(0.02)  # leave the CPU to the job between frames
        preview = app.canvas.preview
        if preview is not None and id(preview.image) not in pictures:
            pictures.add(id(preview.image))
            if len(live_shots) < 3:
                live_shots.append(canvas_pixels(app))
    app.step()
    assert job.error == "" and not job.result.result.cancelled
    assert len(pictures) >= 2  # the canvas followed the steps of the fit
    assert max(mean_abs_diff(shot, before) for shot in live_shots) > 2.0
    assert app.canvas.preview is None  # the live picture is gone when the job ends
    result = job.result.result
    app.render_until_idle()
    assert app.error == "" and "Inverted latent" in app.latent.source_label
    np.testing.assert_allclose(np.load(app.args.latent_file)["w"], result.w_plus)
    assert app.args.yaw == pytest.approx(result.camera.yaw, abs=1e-6)
    assert app.args.pitch == pytest.approx(result.camera.pitch, abs=1e-6)
    # the canvas renders what the inversion fitted: the same latent and camera give the same picture
    assert np.abs(app.image_result.image.astype(int) - result.after_latent.astype(int)).mean() < 2.0
    assert result.psnr_latent > result.psnr_before


def test_pivotal_tuning_gives_a_labelled_in_memory_model_that_can_be_saved(app, tmp_path):
    save_png(tmp_path / "photo.png", _photo())
    app.invert.steps, app.invert.pti, app.invert.pti_steps, app.invert.camera_known = 3, True, 2, True
    original = app.args.checkpoint
    wait_for_job(app, app.invert.start(str(tmp_path / "photo.png")))
    app.render_until_idle()
    assert app.args.checkpoint.startswith(MEMORY_PREFIX) and app.error == ""
    assert app.canvas.banner_drawn.startswith("IN MEMORY, NOT SAVED") and "tuned copy (PTI, 2 steps)" in \
        app.canvas.banner_drawn
    assert app.checkpoint.recent[0] == original  # an in-memory model never enters the recent list
    job = app.invert.save_tuned(str(tmp_path / "tuned.safetensors"))
    wait_for_job(app, job)
    saved = job.result
    app.render_until_idle()
    assert saved.is_file() and app.args.checkpoint == str(saved) and app.error == ""
    assert app.canvas.banner_drawn == "" and app.checkpoint.recent[0] == str(saved)
    app.invert.pti, app.invert.camera_known = False, False
    app.checkpoint.load(original)
    app.render_until_idle()


@pytest.mark.parametrize("kind", ["not an image", "flat"])
def test_a_bad_photo_is_an_error_in_the_canvas(app, tmp_path, kind):
    path = tmp_path / "photo.png"
    if kind == "not an image":
        path.write_text("this is text, not a picture")
        expected = "not an image file"
    else:
        save_png(path, np.full((64, 64, 3), 128, np.uint8))
        expected = "no head-like foreground found"
    shown = app.args.latent_file
    wait_for_job(app, app.invert.start(str(path)))
    assert expected in app.canvas.message and "photo.png" in app.canvas.message
    frame = app.screenshot()
    canvas_area = frame[:, int(app.pane_width * app.window.pixel_ratio):]
    assert count_color(canvas_area, ERROR_BOX_RGBA[:3], tol=30) > 1000  # the red message box is on screen
    for _ in range(5):
        app.step()
    assert app.window.should_close() is False and app.args.latent_file == shown  # nothing changed, still running
