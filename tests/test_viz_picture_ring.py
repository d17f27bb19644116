"""Pictures from the render worker process through shared memory: bit-identical, any size, never overwritten
before the GUI has copied them, pickled when they cannot wait, and no shared memory left behind."""

import functools
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from next3d.capture.render_args import RenderArgs, RenderResult
from viz.async_renderer import AsyncRenderer
from viz.picture_ring import PictureRing, PictureWriter

SIZES = [(64, 64), (48, 80), (80, 48), (128, 128)]  # changes of size and aspect between frames


def picture(stamp: int) -> np.ndarray:
    """A picture only this stamp has (size from SIZES, content from a seeded generator)."""
    h, w = SIZES[stamp % len(SIZES)]
    return np.random.default_rng(stamp).integers(0, 256, (h, w, 3), dtype=np.uint8)


class PatternRenderer:
    def __init__(self, rendered_log: Path | None = None):
        self.rendered_log = rendered_log  # each rendered stamp is appended here, so a test can wait on the worker

    def render(self, args, stamp=0):
        if self.rendered_log is not None:
            with open(self.rendered_log, "a") as log:
                log.write(f"{stamp}\n")
        return RenderResult(stamp=stamp, args=args, image=picture(stamp))


def _wait_rendered(rendered_log: Path, stamp: int, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rendered_log.exists() and str(stamp) in rendered_log.read_text().split():
            return
        time.sleep(0.01)
    raise AssertionError(f"the worker did not render frame {stamp} within {timeout} s")


def shm_exists(name: str) -> bool:
    return os.path.exists(f"/dev/shm/{name.lstrip('/')}")


def test_a_written_picture_reads_back_bit_identical_and_its_slot_waits_for_the_release():
    ring = PictureRing(slots=2, slot_bytes=128 * 128 * 3)
    writer = PictureWriter(ring.names, ring.slot_bytes)
    try:
        first, second = picture(1), picture(2)
        a, b = writer.write(first), writer.write(second)
        assert a.index != b.index and a.shape == (48, 80, 3)
        assert writer.write(picture(3)) is None  # both slots unread: the next picture must travel pickled
        assert np.array_equal(ring.read(a), first) and np.array_equal(ring.read(b), second)
        writer.release(a.index)
        c = writer.write(picture(3))
        assert c.index == a.index and np.array_equal(ring.read(c), picture(3))
        assert np.array_equal(ring.read(b), second)  # the unreleased slot kept its picture
        writer.release(b.index)
        too_big = np.zeros((129, 128, 3), np.uint8)
        assert writer.write(too_big) is None
        floats = np.random.default_rng(0).random((16, 8, 4)).astype(np.float32)
        slot = writer.write(floats)
        assert np.array_equal(ring.read(slot), floats) and ring.read(slot).dtype == np.float32
    finally:
        writer.close()
        names = ring.names
        ring.close()
    if sys.platform.startswith("linux"):
        assert not any(shm_exists(name) for name in names)


def _results(ar, count, timeout=60.0):
    results, deadline = [], time.monotonic() + timeout
    while len(results) < count and time.monotonic() < deadline:
        result = ar.poll()
        if result is not None:
            results.append(result)
        time.sleep(0.002)
    return results


def test_the_process_worker_hands_over_pictures_through_shared_memory(tmp_path):
    rendered_log = tmp_path / "rendered.txt"
    ar = AsyncRenderer(functools.partial(PatternRenderer, rendered_log), use_process=True)
    try:
        names = ar._worker._pictures.names
        for i in range(1, 12):  # more frames than slots, sizes changing, polled as the GUI does
            stamp = ar.submit(RenderArgs(yaw=0.01 * i))
            (result,) = _results(ar, 1)
            assert result.stamp == stamp and np.array_equal(result.image, picture(stamp))
        assert ar.shared_pictures == 11

        # the GUI stops polling while frames keep coming: pictures beyond the free slots come pickled, and no
        # slot is overwritten before it is read. The worker writes frame 19's picture before it reads any
        # release sent after frame 19 was rendered, so taking the results in several goes changes nothing.
        for i in range(12, 20):
            _wait_rendered(rendered_log, ar.submit(RenderArgs(yaw=0.01 * i)))
        shared_before = ar._worker.shared_pictures
        taken, deadline = [], time.monotonic() + 60
        while (not taken or taken[-1].stamp != 19) and time.monotonic() < deadline:
            taken += ar._worker.take_results()
            time.sleep(0.01)
        assert [r.stamp for r in taken] == list(range(12, 20))
        assert all(np.array_equal(r.image, picture(r.stamp)) for r in taken)
        assert 1 <= ar._worker.shared_pictures - shared_before <= 3 < len(taken)
        stamp = ar.submit(RenderArgs(yaw=1.0))  # the slots are free again
        (result,) = _results(ar, 1)
        assert np.array_equal(result.image, picture(stamp)) and ar._worker.shared_pictures == shared_before + 4
    finally:
        ar.close()
    if sys.platform.startswith("linux"):
        assert not any(shm_exists(name) for name in names)


def test_switching_to_a_thread_worker_frees_the_shared_memory():
    ar = AsyncRenderer(PatternRenderer, use_process=True)
    try:
        names = ar._worker._pictures.names
        ar.submit(RenderArgs())
        assert np.array_equal(_results(ar, 1)[0].image, picture(1))
        ar.set_use_process(False)
        if sys.platform.startswith("linux"):
            assert not any(shm_exists(name) for name in names)
        assert np.array_equal(_results(ar, 1)[0].image, picture(2))
    finally:
        ar.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/shm names are Linux's")
def test_a_crashed_worker_leaves_no_shared_memory_and_the_new_one_gets_fresh_slots():
    from tests.test_viz_async_renderer import CrashingRenderer

    ar = AsyncRenderer(CrashingRenderer, use_process=True)
    try:
        old = ar._worker._pictures.names
        ar.submit(RenderArgs(yaw=-1.0))
        assert "render worker stopped" in _results(ar, 1)[0].error
        assert not any(shm_exists(name) for name in old)
        assert all(shm_exists(name) for name in ar._worker._pictures.names)
    finally:
        ar.close()
