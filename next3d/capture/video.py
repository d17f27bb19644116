"""MP4 writing (H.264, yuv420p) through imageio-ffmpeg, atomically: a failed or cancelled video leaves no file."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from next3d.errors import BadInputError
from next3d.utils.atomic import atomic_path

ProgressFn = Callable[[int, int], None]  # (frames done, frames in all)


class CaptureCancelled(Exception):
    """The user stopped a capture job; nothing was written."""


def even_frame(frame: np.ndarray) -> np.ndarray:
    """Pad an (H, W, 3) uint8 frame by repeating its last row/column so both sizes are even (yuv420p needs it)."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return np.ascontiguousarray(frame)


def check_frame(frame: np.ndarray, where: str = "video frame") -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise BadInputError(f"{where}: expected an (H, W, 3) uint8 image, got {frame.dtype} {frame.shape}")
    return frame


class Mp4Writer:
    """Write frames to `path` (.mp4) with libx264; the file appears only when `close()` succeeds.

    Use as a context manager; an exception inside the block removes the partial file.
    """

    def __init__(self, path: str | Path, fps: float = 30.0, quality: int = 8):
        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise BadInputError(f"{self.path}: videos are written as .mp4")
        if not fps > 0:
            raise BadInputError(f"{self.path}: fps must be positive, got {fps}")
        self.fps = float(fps)
        self.quality = int(quality)
        self.frames_written = 0
        self._size: tuple[int, int] | None = None
        self._encoder = None
        self._atomic = None
        self._tmp: Path | None = None

    def __enter__(self) -> "Mp4Writer":
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        return self

    def write(self, frame: np.ndarray) -> None:
        frame = even_frame(check_frame(frame, f"{self.path} frame {self.frames_written}"))
        h, w = frame.shape[:2]
        if self._encoder is None:
            import imageio_ffmpeg

            self._size = (w, h)
            self._encoder = imageio_ffmpeg.write_frames(
                str(self._tmp), (w, h), fps=self.fps, codec="libx264", pix_fmt_out="yuv420p",
                quality=self.quality, macro_block_size=1, ffmpeg_log_level="error",
                output_params=["-movflags", "+faststart"])
            self._encoder.send(None)
        elif (w, h) != self._size:
            raise BadInputError(f"{self.path}: frame {self.frames_written} is {w}x{h}, the video is "
                                f"{self._size[0]}x{self._size[1]}")
        self._encoder.send(frame)
        self.frames_written += 1

    def __exit__(self, exc_type, exc, tb) -> bool:
        encoder, self._encoder = self._encoder, None
        if exc_type is not None:  # the block failed: stop ffmpeg quietly, drop the temporary file, re-raise
            if encoder is not None:
                with contextlib.suppress(Exception):
                    encoder.close()
            return bool(self._atomic.__exit__(exc_type, exc, tb))
        try:
            if encoder is not None:
                encoder.close()
            if self.frames_written == 0:
                raise BadInputError(f"{self.path}: no frames to write")
        except BaseException as error:
            self._atomic.__exit__(type(error), error, error.__traceback__)
            raise
        self._atomic.__exit__(None, None, None)
        return False


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: float, total: int | None = None,
              progress: ProgressFn | None = None, cancelled: Callable[[], bool] | None = None) -> Path:
    """Encode `frames` into `path` atomically, reporting progress after each frame; returns the path."""
    with Mp4Writer(path, fps) as writer:
        for frame in frames:
            if cancelled is not None and cancelled():
                raise CaptureCancelled(f"{path}: capture cancelled after {writer.frames_written} frames")
            writer.write(frame)
            if progress is not None:
                progress(writer.frames_written, total or writer.frames_written)
    return Path(path)


def read_mp4(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames (N, H, W, 3) uint8 and the fps of a video (for tests and previews)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    frames = [np.frombuffer(buf, np.uint8).reshape(h, w, 3) for buf in reader]
    return np.stack(frames) if frames else np.zeros((0, h, w, 3), np.uint8), float(meta["fps"])
