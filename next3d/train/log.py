"""The run's JSONL log (`log.jsonl`): one JSON object per line with "t" (unix time) and "event".

Events: "start", "resume", "tick" (kimg, step, sec_per_kimg, img_per_sec, mean losses), "snapshot", "grid",
"metrics", "stopped", "done". Readers should skip a line that does not parse (a process killed mid-write);
a resumed run rewrites the log without the lines written after the snapshot it resumed from.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from next3d.utils.atomic import atomic_write_text

LOG_FILE = "log.jsonl"


class JsonlLog:
    """Appends events to `path` (flushed line by line); a disabled log (non-main ranks) writes nothing."""

    def __init__(self, path: Path | None):
        self.path = path
        self._file = open(path, "a", encoding="utf-8") if path is not None else None

    def write(self, event: str, **fields) -> None:
        if self._file is None:
            return
        record = {"t": round(time.time(), 3), "event": event, **{k: _finite(v) for k, v in fields.items()}}
        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _finite(value):
    """NaN/Inf (a diverging run) become null: the log stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def read_log(path: Path) -> list[dict]:
    """Every complete, parseable event of a log (partial or garbled lines skipped)."""
    events = []
    if not path.exists():
        return events
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "event" in event:
            events.append(event)
    return events


def rewind_log(path: Path, step: int) -> int:
    """Drop events of steps after `step` (and unparseable lines) from the log, atomically; returns how many."""
    if not path.exists():
        return 0
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    keep = [json.dumps(e, allow_nan=False) for e in read_log(path) if e.get("step", 0) <= step]
    atomic_write_text(path, "".join(line + "\n" for line in keep))
    return len(lines) - len(keep)
