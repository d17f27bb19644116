"""The GUI's asynchronous renderer: never blocks, the latest request wins, stale results are dropped, and a
crashed worker process is reported and replaced. Test renderers below stand in for the model."""

import os
import threading
import time

import pytest

from next3d.capture.render_args import RenderArgs, RenderResult
from viz.async_renderer import AsyncRenderer


class GatedRenderer:
    """Renders only when the test opens the gate, recording which requests it saw."""

    def __init__(self):
        self.gate = threading.Event()
        self.seen: list[int] = []

    def render(self, args, stamp=0):
        self.seen.append(stamp)
        assert self.gate.wait(10)
        return RenderResult(stamp=stamp, args=args)


def _wait_for(async_renderer, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = async_renderer.poll()
        if result is not None:
            return result
        time.sleep(0.005)
    raise AssertionError("no result")


def test_submit_returns_while_a_render_is_blocked_and_latest_request_wins():
    renderer = GatedRenderer()
    ar = AsyncRenderer(lambda: renderer)
    try:
        ar.submit(RenderArgs(yaw=0.1))
        deadline = time.monotonic() + 5
        while not renderer.seen and time.monotonic() < deadline:
            time.sleep(0.005)
        for i in range(2, 6):  # the GUI keeps submitting while the worker is stuck: none of these block
            ar.submit(RenderArgs(yaw=0.1 * i))
        assert ar.poll() is None and ar.pending
        renderer.gate.set()
        results = []
        while ar.pending:
            results.append(_wait_for(ar))
        assert results[-1].stamp == 5 and results[-1].args.yaw == pytest.approx(0.5)
        assert renderer.seen == [1, 5]  # requests 2-4 were superseded before the worker got to them
    finally:
        renderer.gate.set()
        ar.close()


def test_unchanged_args_are_not_rendered_again():
    renderer = GatedRenderer()
    renderer.gate.set()
    ar = AsyncRenderer(lambda: renderer)
    try:
        assert ar.submit(RenderArgs()) == 1
        _wait_for(ar)
        assert ar.submit(RenderArgs()) == 1 and not ar.pending
        assert ar.submit(RenderArgs(psi=0.5)) == 2
        _wait_for(ar)
        assert renderer.seen == [1, 2]
    finally:
        ar.close()


def test_results_older_than_the_shown_one_are_dropped():
    ar = AsyncRenderer(lambda: GatedRenderer())
    try:
        ar._worker.take_results = lambda: [RenderResult(stamp=3), RenderResult(stamp=2)]
        ar.submitted_stamp = 3
        assert ar.poll().stamp == 3
        ar._worker.take_results = lambda: [RenderResult(stamp=1)]
        assert ar.poll() is None
    finally:
        ar._worker.take_results = lambda: []
        ar.close()


class CrashingRenderer:
    """Kills its worker process on a negative yaw (like the OOM killer would)."""

    def render(self, args, stamp=0):
        if args.yaw < 0:
            os._exit(9)
        return RenderResult(stamp=stamp, args=args)


def test_a_dead_worker_process_becomes_an_error_and_a_fresh_worker():
    ar = AsyncRenderer(CrashingRenderer, use_process=True)
    try:
        ar.submit(RenderArgs(yaw=0.2))
        assert _wait_for(ar, 60).error == ""
        ar.submit(RenderArgs(yaw=-1.0))
        crashed = _wait_for(ar, 60)
        assert "render worker stopped" in crashed.error and "exit code 9" in crashed.error
        ar.submit(RenderArgs(yaw=-1.0))  # the same args are not retried
        assert not ar.pending
        ar.submit(RenderArgs(yaw=0.3))
        assert _wait_for(ar, 60).args.yaw == pytest.approx(0.3)
    finally:
        ar.close()
