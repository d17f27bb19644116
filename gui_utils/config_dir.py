"""Where the visualizer keeps its layout (imgui.ini) and state between runs."""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "next3d-studio"


def user_config_dir() -> Path:
    """$NEXT3D_STUDIO_CONFIG_DIR, else $XDG_CONFIG_HOME/next3d-studio, else ~/.config/next3d-studio."""
    override = os.environ.get("NEXT3D_STUDIO_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / APP_DIR_NAME
