"""`python visualizer.py` itself, as a user starts it (worker process, fonts, layout files), under Xvfb."""

import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import pytest
from gui_support import xvfb_display  # noqa: F401  (the fixture, used below)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("xvfb_display")]


def test_visualizer_starts_renders_and_saves_a_screenshot(tmp_path):
    shot = tmp_path / "gui.png"
    env = {**os.environ, "NEXT3D_STUDIO_CONFIG_DIR": str(tmp_path / "config")}
    proc = subprocess.run([sys.executable, str(ROOT / "visualizer.py"), "builtin:tiny-random", "--frames", "30",
                           "--screenshot", str(shot)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    image = iio.imread(shot)
    height, width = image.shape[:2]
    assert width >= 640 and height >= 400  # fitted to the 1280x800 screen
    canvas = image[:, width // 3:].reshape(-1, 3).astype(int)
    assert canvas.std(axis=0).max() > 10  # the rendered picture, not an empty canvas
    assert (tmp_path / "config" / "visualizer.json").is_file() and (tmp_path / "config" / "imgui.ini").is_file()


def test_no_usable_opengl_gives_one_clear_message(tmp_path):
    # Mesa told to offer only OpenGL 3.0: the 3.3 core context cannot be created, as on an old driver
    env = {**os.environ, "NEXT3D_STUDIO_CONFIG_DIR": str(tmp_path), "MESA_GL_VERSION_OVERRIDE": "3.0"}
    proc = subprocess.run([sys.executable, str(ROOT / "visualizer.py"), "--frames", "1"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("error: cannot create an OpenGL 3.3 core-profile window")
    assert "xvfb-run -a python visualizer.py" in message and "python -m next3d render" in message
