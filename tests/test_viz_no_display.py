"""Without a display the visualizer says how to run it instead of crashing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("display, problem", [(None, "no display"), (":987", "cannot open the display")])
def test_no_display_gives_one_clear_message_naming_the_fixes(tmp_path, display, problem):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if display:
        env["DISPLAY"] = display  # set, but no X server behind it
    env["NEXT3D_STUDIO_CONFIG_DIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, str(ROOT / "visualizer.py")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith(f"error: {problem}")
    assert "xvfb-run -a python visualizer.py" in message
    assert "python -m next3d render" in message and "python -m next3d video" in message
