"""A capture running in a background thread, with progress for the GUI's progress bar and a cancel button."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from next3d.capture.video import CaptureCancelled
from next3d.errors import Next3DError

log = logging.getLogger(__name__)


class CaptureJob:
    """Runs `work(progress, cancelled) -> Path` in a thread; `done/total`, `finished`, `output`, `error`."""

    def __init__(self, name: str, work: Callable[[Callable[[int, int], None], Callable[[], bool]], Path]):
        self.name = name
        self.done = 0
        self.total = 0
        self.output: Path | None = None
        self.error = ""
        self.cancelled = False
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,), name=f"capture-{name}", daemon=True)
        self._thread.start()

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def _run(self, work) -> None:
        try:
            self.output = work(self._progress, self._cancel.is_set)
        except CaptureCancelled:
            self.cancelled = True
        except Exception as exc:  # noqa: BLE001 - shown in the GUI, never kills it
            self.error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.error("%s failed: %s", self.name, self.error, exc_info=not isinstance(exc, Next3DError))

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return self.finished
