"""The run's JSONL log (`log.jsonl`, written with next3d.utils.jsonl.JsonlLog) and its rewind on resume.

Events: "start", "resume", "tick" (kimg, step, sec_per_kimg, img_per_sec, mean losses), "snapshot", "grid",
"metrics", "stopped", "done". Readers should skip a line that does not parse (a process killed mid-write);
a resumed run rewrites the log without the lines written after the snapshot it resumed from.
"""

from __future__ import annotations

import json
from pathlib import Path

from next3d.utils.atomic import atomic_write_text
from next3d.utils.jsonl import read_events

LOG_FILE = "log.jsonl"


def rewind_log(path: Path, step: int) -> int:
    """Drop events of steps after `step` (and unparseable lines) from the log, atomically; returns how many."""
    if not path.exists():
        return 0
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    keep = [json.dumps(e, allow_nan=False) for e in read_events(path) if e.get("step", 0) <= step]
    atomic_write_text(path, "".join(line + "\n" for line in keep))
    return len(lines) - len(keep)
