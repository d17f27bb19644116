"""What the visualizer remembers between runs (JSON in the user config dir): recent checkpoints, window
geometry, open headers and each widget's values. Unknown or mistyped entries are ignored, never fatal."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from next3d.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)

STATE_FILE_NAME = "visualizer.json"
MAX_RECENT = 12


def load_app_state(path: Path) -> dict:
    """The saved document, or {} when it is missing or unreadable (a broken file is reported, then ignored)."""
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable visualizer state %s (%s)", path, exc)
        return {}
    return doc if isinstance(doc, dict) else {}


def save_app_state(path: Path, doc: dict) -> None:
    """Write the session document atomically; a failure is a warning (the session is a convenience)."""
    try:
        atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True, default=_plain) + "\n")
    except (OSError, TypeError, ValueError) as exc:
        log.warning("could not save visualizer state to %s (%s)", path, exc)


def _plain(value):
    """JSON fallback for numpy scalars and arrays that reach widget attributes."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def widget_values(widget, names: tuple[str, ...]) -> dict:
    """The JSON-safe values of `widget`'s attributes `names` (tuples become lists)."""
    values = {}
    for name in names:
        value = getattr(widget, name)
        values[name] = list(value) if isinstance(value, tuple) else value
    return values


def restore_widget_values(widget, names: tuple[str, ...], saved: dict) -> None:
    """Set attributes from `saved` where the saved value has the current value's type (ints may become floats)."""
    if not isinstance(saved, dict):
        return
    for name in names:
        if name not in saved:
            continue
        current, value = getattr(widget, name), saved[name]
        if isinstance(current, tuple) and isinstance(value, list) and len(value) == len(current) \
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            setattr(widget, name, tuple(type(c)(v) for c, v in zip(current, value)))
        elif isinstance(current, bool) or isinstance(value, bool):
            if isinstance(current, bool) and isinstance(value, bool):
                setattr(widget, name, value)
        elif isinstance(current, float) and isinstance(value, (int, float)):
            setattr(widget, name, float(value))
        elif current is None or value is None or type(current) is type(value):
            if current is None and value is not None and not isinstance(value, (int, float, str)):
                continue
            setattr(widget, name, value)


def add_recent(recent: list[str], item: str) -> list[str]:
    """`item` first, without duplicates, at most MAX_RECENT entries."""
    return [item] + [r for r in recent if r != item][: MAX_RECENT - 1]
