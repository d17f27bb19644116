"""Machine-readable job logs: one JSON object per line with "t" (unix time) and "event".

NaN/Inf (a diverging run) are written as null so every line stays strict JSON; readers skip a line that
does not parse (a process killed mid-write).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path


def finite_json(value):
    """`value` with NaN/Inf floats replaced by None, recursively through dicts, lists and tuples."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def event_line(event: str, **fields) -> str:
    """One log line (with its newline) for `event` now."""
    record = {"t": round(time.time(), 3), "event": event, **fields}
    return json.dumps(finite_json(record), allow_nan=False) + "\n"


class JsonlLog:
    """Appends events to `path`, flushed line by line; `JsonlLog(None)` (e.g. non-main ranks) writes nothing."""

    def __init__(self, path: str | Path | None):
        self.path = None if path is None else Path(path)
        self._file = None if self.path is None else open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, event: str, **fields) -> None:
        if self._file is not None:
            self._file.write(event_line(event, **fields))
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "JsonlLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def append_event(path: str | Path, event: str, /, **fields) -> None:
    """Append one event to the log at `path` (creating its folder); for jobs that log rarely."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(event_line(event, **fields))


def read_events(path: str | Path) -> list[dict]:
    """Every complete, parseable event of a log (partial or garbled lines skipped; none if it is missing)."""
    path = Path(path)
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "event" in event:
            events.append(event)
    return events
