"""Capture jobs shared by the GUI and the headless commands: stills, turntable and expression videos."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from next3d.capture.orbit import turntable_path
from next3d.capture.render_args import RenderArgs
from next3d.capture.sequence import HeadSequence
from next3d.capture.video import ProgressFn, write_mp4
from next3d.errors import BadInputError
from next3d.utils.atomic import atomic_write_bytes


def turntable_args(base: RenderArgs, frames: int, yaw_amp: float, pitch_amp: float) -> list[RenderArgs]:
    """One loop around `base`'s camera: yaw = base + a sin(2 pi t), pitch = base + b cos(2 pi t)."""
    return [base.with_(yaw=yaw, pitch=pitch) for yaw, pitch in
            turntable_path(frames, yaw_amp, pitch_amp, base.yaw, base.pitch)]


def sequence_args(base: RenderArgs, sequence: HeadSequence, loops: int = 1) -> list[RenderArgs]:
    """One frame per sequence frame (repeated `loops` times), head fields from the sequence."""
    if loops < 1:
        raise BadInputError(f"loops must be at least 1, got {loops}")
    return [sequence.apply(base, i) for i in range(len(sequence) * loops)]


def rendered_frames(render: Callable[[RenderArgs], np.ndarray], frames: list[RenderArgs]) -> Iterator[np.ndarray]:
    for args in frames:
        yield render(args)


def record_video(render: Callable[[RenderArgs], np.ndarray], frames: list[RenderArgs], path: str | Path,
                 fps: float, progress: ProgressFn | None = None,
                 cancelled: Callable[[], bool] | None = None) -> Path:
    """Render every args in `frames` with `render` (e.g. `Renderer.render_image`) into an mp4, atomically."""
    if not frames:
        raise BadInputError(f"{path}: no frames to record")
    return write_mp4(path, rendered_frames(render, frames), fps, total=len(frames), progress=progress,
                     cancelled=cancelled)


def encode_png(image: np.ndarray) -> bytes:
    import imageio.v3 as iio

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise BadInputError(f"image to save: expected (H, W, 3) uint8, got {image.dtype} {image.shape}")
    buffer = io.BytesIO()
    iio.imwrite(buffer, image, extension=".png")
    return buffer.getvalue()


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 image as PNG, atomically."""
    path = Path(path)
    atomic_write_bytes(path, encode_png(image))
    return path


def next_free_path(folder: str | Path, stem: str, suffix: str) -> Path:
    """folder/stem-0000.suffix with the first number not yet used."""
    folder = Path(folder)
    for i in range(100000):
        candidate = folder / f"{stem}-{i:04d}{suffix}"
        if not candidate.exists():
            return candidate
    raise BadInputError(f"{folder}: no free file name for {stem}-NNNN{suffix}")
