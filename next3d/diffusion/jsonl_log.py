"""Machine-readable logs: one JSON object per line with "t" (unix time) and "event"."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path


def append_event(path: str | Path, event: str, /, **fields) -> None:
    """Append one event line (creating the folder); NaN/Inf become null so every line stays strict JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"t": round(time.time(), 3), "event": event,
              **{k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in fields.items()}}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, allow_nan=False) + "\n")
