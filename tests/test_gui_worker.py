"""The default render worker is a separate process: the GUI keeps drawing frames while it renders."""

import pytest
from gui_support import (
    make_app,
    xvfb_display,  # noqa: F401  (the fixture, used below)
)

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("xvfb_display")]


def test_worker_process_renders_while_the_gui_keeps_drawing(tmp_path):
    app = make_app(tmp_path / "config", use_process=True)
    try:
        frames_while_waiting = app.render_until_idle(timeout_s=300)
        assert frames_while_waiting > 5  # the window kept drawing while the worker started and rendered
        assert app.error == "" and app.image_result.image.shape == (64, 64, 3)
        app.camera.yaw = 0.4
        app.step()
        assert app.renderer.pending  # submitted, not waited for
        app.render_until_idle()
        assert app.image_result.args.yaw == pytest.approx(0.4)
        app.renderer.set_use_process(False)  # the Performance panel's switch, both ways
        app.camera.yaw = -0.4
        app.render_until_idle()
        assert app.error == "" and app.image_result.args.yaw == pytest.approx(-0.4)
        app.renderer.set_use_process(True)
        app.camera.yaw = 0.1
        app.render_until_idle(timeout_s=300)
        assert app.error == "" and app.image_result.args.yaw == pytest.approx(0.1)
    finally:
        app.close()
