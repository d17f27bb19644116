"""The inversion's machine-readable log: one JSON object per line with "t" (unix time) and "event"."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Self


class JsonlLog:
    """Appends events to `path`, flushed line by line (NaN/Inf written as null)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the job's lifetime

    def write(self, event: str, **fields) -> None:
        record = {"t": round(time.time(), 3), "event": event, **fields}
        self._file.write(json.dumps(finite_json(record), allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def finite_json(value):
    """`value` with NaN/Inf floats replaced by None (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value
