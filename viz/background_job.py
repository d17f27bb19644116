"""Work the GUI must not wait for (loading a prior, sampling, inverting), run in a daemon thread with progress,
a status line and cancellation; the GUI polls `finished`, `result` and `error` once per frame."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from next3d.errors import Next3DError

log = logging.getLogger(__name__)


class BackgroundJob:
    """Runs `work(job)` in a thread. The work calls `job.progress(done, total, status)` and checks
    `job.cancelled`; its return value lands in `result`, an exception's first line in `error`."""

    def __init__(self, name: str, work: Callable[[BackgroundJob], Any]):
        self.name = name
        self.done = 0
        self.total = 0
        self.status = ""
        self.latest: Any = None   # the newest intermediate output the work wants shown (e.g. a picture)
        self.result: Any = None
        self.error = ""
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,), name=f"job-{name}", daemon=True)
        self._thread.start()

    def _run(self, work) -> None:
        try:
            self.result = work(self)
        except Exception as exc:  # noqa: BLE001 - shown in the GUI, never kills it
            text = str(exc).strip()
            self.error = text.splitlines()[0] if text else type(exc).__name__
            log.error("%s failed: %s", self.name, self.error, exc_info=not isinstance(exc, Next3DError))

    def progress(self, done: int, total: int, status: str = "") -> None:
        self.done, self.total, self.status = done, total, status

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        return self._cancel

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return self.finished
