"""Rendering off the GUI thread: in a thread or a spawned worker process; the latest request wins.

Every request gets a stamp (1, 2, ...). A worker always renders the newest request it has; requests that
were superseded while it was busy are skipped, and results older than the one already shown are dropped.
The GUI only ever calls the non-blocking `submit`, `poll` and `add_model` (an in-memory generator: a thread
worker shares the GUI's model cache; a process worker is sent the weights, in order with the requests).
A process worker hands its pictures over through shared memory (viz/picture_ring.py).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import threading
from dataclasses import replace
from typing import Callable, Protocol

from next3d.capture.memory_models import MemoryModel
from next3d.capture.render_args import RenderArgs, RenderResult
from viz.picture_ring import PictureRing, PictureWriter

log = logging.getLogger(__name__)


class FrameRenderer(Protocol):
    models: object  # the renderer's ModelCache (`register(MemoryModel)`)

    def render(self, args: RenderArgs, stamp: int = 0) -> RenderResult: ...


class _ThreadWorker:
    def __init__(self, make_renderer: Callable[[], FrameRenderer]):
        self._make_renderer = make_renderer
        self._cond = threading.Condition()
        self._request: tuple[int, RenderArgs] | None = None
        self._results: list[RenderResult] = []
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="render-worker", daemon=True)
        self._thread.start()

    def request(self, stamp: int, args: RenderArgs) -> None:
        with self._cond:
            self._request = (stamp, args)
            self._cond.notify()

    def add_model(self, model: MemoryModel) -> None:
        pass  # the thread renders with the GUI's own model cache, where the app registered the model

    def take_results(self) -> list[RenderResult]:
        with self._cond:
            results, self._results = self._results, []
        return results

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        renderer = None
        while True:
            with self._cond:
                while self._request is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                (stamp, args), self._request = self._request, None
            try:
                renderer = renderer or self._make_renderer()
                result = renderer.render(args, stamp)
            except Exception as exc:  # noqa: BLE001 - a renderer that cannot even start reports like a bad frame
                result = RenderResult(stamp=stamp, args=args, error=f"renderer failed to start: {exc}")
            with self._cond:
                self._results.append(result)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)


def _process_main(make_renderer, requests, results, threads: int, ring_names=(), slot_bytes: int = 0) -> None:
    """Messages in: ("render", stamp, args), ("model", MemoryModel), ("release", slot index) or None to stop.
    Out: a RenderResult, or ("picture", PictureSlot, RenderResult without its image) when the picture went
    into shared memory."""
    import torch

    torch.set_num_threads(max(1, threads))
    pictures = PictureWriter(ring_names, slot_bytes) if ring_names else None
    renderer = None
    try:
        while True:
            items = [requests.get()]
            try:  # everything queued so far: models are all applied, only the newest render request is kept
                while True:
                    items.append(requests.get_nowait())
            except queue.Empty:
                pass
            if None in items:
                return
            for item in items:
                if item[0] == "release":
                    pictures.release(item[1])
            models = [item[1] for item in items if item[0] == "model"]
            renders = [item for item in items if item[0] == "render"]
            if not models and not renders:
                continue
            try:
                renderer = renderer or make_renderer()
                for model in models:
                    renderer.models.register(model)
            except Exception as exc:  # noqa: BLE001 - reported with the next frame
                if renders:
                    _, stamp, args = renders[-1]
                    results.put(RenderResult(stamp=stamp, args=args, error=f"renderer failed to start: {exc}"))
                continue
            if not renders:
                continue
            _, stamp, args = renders[-1]
            try:
                result = renderer.render(args, stamp)
            except Exception as exc:  # noqa: BLE001
                result = RenderResult(stamp=stamp, args=args, error=f"renderer failed to start: {exc}")
            slot = pictures.write(result.image) if pictures is not None and result.image is not None else None
            results.put(result if slot is None else ("picture", slot, replace(result, image=None)))
    finally:
        if pictures is not None:
            pictures.close()


class _ProcessWorker:
    def __init__(self, make_renderer: Callable[[], FrameRenderer]):
        ctx = mp.get_context("spawn")  # torch must not inherit the GUI's GL/glfw state through fork
        self._requests = ctx.Queue()
        self._results = ctx.Queue()
        threads = max(1, (os.cpu_count() or 2) - 1)  # leave a core for the GUI
        try:
            self._pictures: PictureRing | None = PictureRing()
        except OSError as exc:  # no shared memory here (/dev/shm full or missing): pictures go through the pipe
            log.warning("no shared memory for pictures (%s); sending them through the pipe", exc)
            self._pictures = None
        ring = (self._pictures.names, self._pictures.slot_bytes) if self._pictures is not None else ((), 0)
        self._process = ctx.Process(target=_process_main, name="render-worker",
                                    args=(make_renderer, self._requests, self._results, threads, *ring), daemon=True)
        self._process.start()
        self.shared_pictures = 0  # pictures received through shared memory (the rest came pickled)

    def request(self, stamp: int, args: RenderArgs) -> None:
        self._requests.put(("render", stamp, args))

    def add_model(self, model: MemoryModel) -> None:
        self._requests.put(("model", model))

    def take_results(self) -> list[RenderResult]:
        results = []
        try:
            while True:
                results.append(self._received(self._results.get_nowait()))
        except queue.Empty:
            pass
        return results

    def _received(self, message) -> RenderResult:
        if isinstance(message, RenderResult):
            return message
        _, slot, result = message
        picture = self._pictures.read(slot)
        self._requests.put(("release", slot.index))
        self.shared_pictures += 1
        return replace(result, image=picture)

    def alive(self) -> bool:
        return self._process.is_alive()

    @property
    def exitcode(self):
        return self._process.exitcode

    def close(self) -> None:
        if self._process.is_alive():
            self._requests.put(None)
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
        for q in (self._requests, self._results):
            q.cancel_join_thread()
            q.close()
        if self._pictures is not None:
            self._pictures.close()


class AsyncRenderer:
    """The GUI's handle on the renderer. `submit` when args change, `poll` every frame; neither blocks."""

    def __init__(self, make_renderer: Callable[[], FrameRenderer], use_process: bool = False):
        self._make_renderer = make_renderer
        self.use_process = use_process
        self._worker = self._start_worker()
        self.submitted_stamp = 0
        self.received_stamp = 0
        self._last_args: RenderArgs | None = None

    def _start_worker(self):
        return _ProcessWorker(self._make_renderer) if self.use_process else _ThreadWorker(self._make_renderer)

    def set_use_process(self, use_process: bool) -> None:
        """Switch between a worker thread and a worker process (the current request is sent again)."""
        if use_process == self.use_process:
            return
        self._worker.close()
        self.use_process = use_process
        self._worker = self._start_worker()
        if self._last_args is not None:
            self.submitted_stamp += 1
            self._worker.request(self.submitted_stamp, self._last_args)

    def add_model(self, model: MemoryModel) -> None:
        """Make an in-memory generator available to the worker (after `register` in the GUI's cache, which a
        newly started worker process copies)."""
        self._worker.add_model(model)

    def submit(self, args: RenderArgs, force: bool = False) -> int:
        """Ask for a frame of `args` unless it equals the last request; returns the request's stamp."""
        if force or args != self._last_args:
            self._last_args = args
            self.submitted_stamp += 1
            self._worker.request(self.submitted_stamp, args)
        return self.submitted_stamp

    def poll(self) -> RenderResult | None:
        """The newest finished result not older than the last one returned, or None."""
        newest = None
        for result in self._worker.take_results():
            if result.stamp > self.received_stamp:
                self.received_stamp = result.stamp
                newest = result
        if newest is None and self.pending and not self._worker.alive():
            newest = self._restart_after_crash()
        return newest

    def _restart_after_crash(self) -> RenderResult:
        code = getattr(self._worker, "exitcode", None)
        log.error("render worker stopped (exit code %s); starting a new one", code)
        stamp = self.submitted_stamp
        self.received_stamp = stamp
        args = self._last_args
        self._worker.close()
        self._worker = self._start_worker()
        # _last_args stays: the same args are not retried (they may crash again); any change renders anew
        return RenderResult(stamp=stamp, args=args,
                            error=f"the render worker stopped (exit code {code}; out of memory?); restarted it")

    @property
    def shared_pictures(self) -> int:
        """Pictures the current worker process handed over through shared memory (0 for a thread)."""
        return getattr(self._worker, "shared_pictures", 0)

    @property
    def pending(self) -> bool:
        """True while the newest request has no result yet."""
        return self.received_stamp < self.submitted_stamp

    def close(self) -> None:
        self._worker.close()
