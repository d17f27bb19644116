"""Pictures from the render worker process to the GUI through shared memory instead of the result pipe.

Pickling a 512² picture through a multiprocessing queue costs 1-3 ms a frame (docs/performance.md); a copy
into shared memory costs ~0.1 ms. The GUI side owns a few fixed-size slots (it alone creates and unlinks
them); the worker writes a finished picture into a free slot and sends a small `PictureSlot` descriptor in
its place; the GUI copies the picture out and hands the slot back. A picture that does not fit, or that
finds every slot still unread (the GUI has not polled for a while), travels pickled as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

SLOT_BYTES = 1024 * 1024 * 4  # a 1024² RGBA picture
SLOTS = 3


@dataclass(frozen=True)
class PictureSlot:
    """Where a picture waits: the slot's index, and the array's shape and dtype."""

    index: int
    shape: tuple[int, ...]
    dtype: str


def _view(memory: shared_memory.SharedMemory, slot: PictureSlot) -> np.ndarray:
    return np.ndarray(slot.shape, dtype=np.dtype(slot.dtype), buffer=memory.buf)


class PictureRing:
    """The GUI side: creates the slots, copies pictures out of them, unlinks them on `close`."""

    def __init__(self, slots: int = SLOTS, slot_bytes: int = SLOT_BYTES):
        self.slot_bytes = slot_bytes
        self._memory: list[shared_memory.SharedMemory] = []
        try:
            for _ in range(slots):
                self._memory.append(shared_memory.SharedMemory(create=True, size=slot_bytes))
        except BaseException:
            self.close()
            raise

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(memory.name for memory in self._memory)

    def read(self, slot: PictureSlot) -> np.ndarray:
        """A copy of the picture in `slot` (the slot may be reused as soon as this returns)."""
        view = _view(self._memory[slot.index], slot)
        picture = view.copy()
        del view  # a live view would keep the buffer exported and make close() fail
        return picture

    def close(self) -> None:
        for memory in self._memory:
            memory.close()
            try:
                memory.unlink()
            except FileNotFoundError:
                pass
        self._memory = []


class PictureWriter:
    """The worker side: attaches to the GUI's slots and writes pictures into those the GUI has read."""

    def __init__(self, names: tuple[str, ...], slot_bytes: int):
        self.slot_bytes = slot_bytes
        # Attaching registers the name with the resource tracker, which a spawned worker shares with the GUI
        # process: a repeat of the GUI's own registration, so only the GUI's unlink clears it.
        self._memory = [shared_memory.SharedMemory(name=name) for name in names]
        self._free = set(range(len(names)))

    def write(self, picture) -> PictureSlot | None:
        """Copy `picture` into a free slot and return its descriptor; None if it does not fit or none is free."""
        if not isinstance(picture, np.ndarray) or picture.nbytes > self.slot_bytes or not self._free:
            return None
        slot = PictureSlot(min(self._free), tuple(picture.shape), picture.dtype.str)
        view = _view(self._memory[slot.index], slot)
        view[...] = picture
        del view
        self._free.discard(slot.index)
        return slot

    def release(self, index: int) -> None:
        """The GUI has copied the picture out of slot `index`."""
        self._free.add(index)

    def close(self) -> None:
        for memory in self._memory:
            memory.close()
        self._memory = []
