"""The render worker: a separate process on the CPU (the GUI keeps drawing frames while it renders), a thread on a
GPU (fewer copies, which the frame-time targets need); the user's own choice is remembered."""

import json

import pytest
import torch
from gui_support import (
    make_app,
    xvfb_display,  # noqa: F401  (the fixture, used below)
)

from viz.app import default_use_process

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


def test_the_worker_defaults_to_a_process_on_the_cpu_and_a_thread_on_a_gpu(monkeypatch):
    assert default_use_process("cpu") is True
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_use_process("auto") is False and default_use_process("cuda") is False
    assert default_use_process("cpu") is True  # an explicit CPU device keeps the process
    assert default_use_process("cuda:99") is True and default_use_process("tpu") is True  # bad: the canvas says so


def test_the_default_worker_follows_the_machine_and_a_changed_choice_is_remembered(tmp_path):
    config = tmp_path / "config"
    app = make_app(config, use_process=None, restore=True)
    try:
        assert app.renderer.use_process is default_use_process("auto")  # no saved choice: the machine's default
        app.step()
        assert app.args.precision == "fast"  # the default precision: graphs and kernels on a GPU, fp32 on the CPU
        app.save_state()
        assert "use_process" not in json.loads(app.state_path.read_text())["performance"]
        app.renderer.set_use_process(not app.renderer.use_process)  # the Performance panel's switch
        app.save_state()
    finally:
        app.close()
    app = make_app(config, use_process=None, restore=True)
    try:
        assert app.renderer.use_process is not default_use_process("auto")
    finally:
        app.close()
