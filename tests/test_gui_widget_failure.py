"""A widget that raises in the middle of drawing (with an imgui child window and an id still pushed) does not
close the visualizer: the error is logged once and shown in the canvas, imgui's stacks are repaired every frame
(no 'Missing End()' assertion), and the other widgets and the renderer keep working."""

import numpy as np
import pytest
from gui_support import (
    make_app,
    xvfb_display,  # noqa: F401  (the fixture, used below)
)
from imgui_bundle import imgui

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("xvfb_display")]


class BrokenMidFrame:
    """Stands in for a widget with a bug: it opens a child window and pushes an id, then raises."""

    def __init__(self, widget):
        self.widget, self.title, self.calls = widget, widget.title, 0

    def __call__(self, show: bool) -> None:
        self.calls += 1
        imgui.begin_child("half-drawn", (100, 40))
        imgui.push_id("left-open")
        imgui.text("drawing...")
        raise ValueError("widget bug for the test")


def test_a_widget_that_raises_every_frame_leaves_the_app_running(tmp_path, caplog):
    app = make_app(tmp_path / "config")
    try:
        app.render_until_idle()
        index = app.widgets.index(app.expression)
        broken = BrokenMidFrame(app.widgets[index])
        app.widgets[index] = broken
        app.open_headers[broken.title] = True
        before = app.image_result.image.copy()
        for _ in range(30):
            app.step()
        assert broken.calls == 30  # drawn (and failing) every frame, the app still stepping
        assert "internal error in" in app.canvas.message and "widget bug for the test" in app.canvas.message
        assert sum("widget bug for the test" in r.getMessage() or "failed" in r.getMessage()
                   for r in caplog.records) == 1  # logged once, not once per frame
        app.camera.yaw += 0.4  # the other widgets and the renderer still work
        app.render_until_idle()
        assert np.abs(app.image_result.image.astype(float) - before).mean() > 1.0
        app.widgets[index] = broken.widget  # the real one again, for the settings saved on close
    finally:
        app.close()
