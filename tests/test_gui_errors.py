"""Under Xvfb: bad input is drawn in the canvas and logged once; the app keeps running. Layout persists."""

import logging

import pytest
from gui_support import (
    count_color,
    make_app,
    xvfb_display,  # noqa: F401  (the fixture, used below)
)

from viz.canvas import ERROR_BOX_RGBA

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("xvfb_display")]


def test_bad_checkpoint_is_drawn_in_the_canvas_and_logged_once(tmp_path, caplog):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"this is not a checkpoint")
    app = make_app(tmp_path / "config", checkpoint=str(bad))
    try:
        with caplog.at_level(logging.ERROR, logger="next3d.viz"):
            app.render_until_idle()
            for _ in range(30):
                app.step()
        assert "broken.safetensors" in app.error and "safetensors" in app.error
        assert app.canvas.error_drawn == app.error
        frame = app.screenshot()
        canvas_area = frame[:, int(app.pane_width * app.window.pixel_ratio):]
        assert count_color(canvas_area, ERROR_BOX_RGBA[:3], tol=30) > 2000  # the red error box is on screen
        logged = [r for r in caplog.records if "broken.safetensors" in r.getMessage()]
        assert len(logged) == 1
        app.checkpoint.load(str(tmp_path / "missing.safetensors"))
        app.render_until_idle()
        assert "no such checkpoint file" in app.error and app.window.should_close() is False
    finally:
        app.close()


def test_layout_and_widget_values_persist_between_runs(tmp_path):
    config = tmp_path / "config"
    app = make_app(config, checkpoint=str(tmp_path / "none.safetensors"), size=(900, 600))
    try:
        app.camera.yaw, app.latent.x, app.latent.psi = 0.5, 12.0, 0.4
        app.open_headers["Capture"] = True
        for _ in range(3):
            app.step()
    finally:
        app.close()
    assert (config / "visualizer.json").is_file() and (config / "imgui.ini").is_file()
    again = make_app(config, checkpoint=str(tmp_path / "none.safetensors"), restore=True, size=None)
    try:
        again.step()
        assert again.window.window_size == (900, 600)
        assert (again.camera.yaw, again.latent.x, again.latent.psi) == (0.5, 12.0, pytest.approx(0.4))
        assert again.open_headers["Capture"] is True
    finally:
        again.close()


def test_a_broken_state_file_does_not_stop_the_app(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "visualizer.json").write_text("{ not json")
    app = make_app(config, checkpoint=str(tmp_path / "none.safetensors"), restore=True)
    try:
        for _ in range(3):
            app.step()
        assert app.camera.yaw == 0.0
    finally:
        app.close()
