"""Head-parameter sequences (.npz) for expression playback and expression videos.

File layout: arrays named after `HeadParams` fields (`shape`, `expression`, `jaw`, `neck`, `eyes`, `rotation`,
`translation`), each (T, n) for per-frame values or (n,) for a constant; optionally a scalar `fps`. Every
field left out stays at its neutral value. Loaded with allow_pickle=False: a file cannot run code.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from next3d.capture.render_args import HEAD_FIELDS, RenderArgs
from next3d.errors import BadInputError, UnsafeFileError
from next3d.utils.atomic import atomic_write_bytes

DEFAULT_FPS = 30.0


@dataclass(frozen=True)
class HeadSequence:
    """Validated per-frame head parameters: field -> (T, n) float32 arrays."""

    path: str
    arrays: dict[str, np.ndarray]
    fps: float = DEFAULT_FPS

    def __len__(self) -> int:
        return next(iter(self.arrays.values())).shape[0] if self.arrays else 0

    def frame(self, index: int) -> dict[str, tuple[float, ...]]:
        """The head values of frame `index` (wrapping around), as RenderArgs fields."""
        i = index % len(self)
        return {name: tuple(float(v) for v in values[i]) for name, values in self.arrays.items()}

    def apply(self, args: RenderArgs, index: int) -> RenderArgs:
        return args.with_(**self.frame(index))


def load_head_sequence(path: str | Path) -> HeadSequence:
    """Read and validate a sequence file; every problem raises BadInputError naming the file and the key."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInputError(f"{path}: no such expression sequence file")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise BadInputError(f"{path}: a single .npy array, expected an .npz with named head parameters")
            raw = {key: data[key] for key in data.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise UnsafeFileError(f"{path}: holds Python objects (pickled); refusing to load it") from None
        raise BadInputError(f"{path}: not a readable .npz file ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise BadInputError(f"{path}: not a readable .npz file ({exc})") from None
    return validate_head_sequence(raw, str(path))


def validate_head_sequence(raw: dict[str, np.ndarray], where: str) -> HeadSequence:
    fps = DEFAULT_FPS
    if "fps" in raw:
        fps_arr = np.asarray(raw.pop("fps"))
        if fps_arr.size != 1 or not np.issubdtype(fps_arr.dtype, np.number) or not float(fps_arr) > 0 \
                or not math.isfinite(float(fps_arr)):
            raise BadInputError(f"{where}: 'fps' must be one positive number")
        fps = float(fps_arr)
    unknown = sorted(set(raw) - set(HEAD_FIELDS))
    if unknown:
        raise BadInputError(f"{where}: unknown key(s) {', '.join(unknown)}; expected some of "
                            f"{', '.join(HEAD_FIELDS)} (and optionally fps)")
    if not raw:
        raise BadInputError(f"{where}: no head parameters in it (expected some of {', '.join(HEAD_FIELDS)})")
    arrays: dict[str, np.ndarray] = {}
    lengths: dict[str, int] = {}
    for name, value in raw.items():
        value = np.asarray(value)
        if not np.issubdtype(value.dtype, np.number):
            raise BadInputError(f"{where}: '{name}' has dtype {value.dtype}, expected numbers")
        if value.ndim not in (1, 2):
            raise BadInputError(f"{where}: '{name}' has shape {value.shape}, expected (frames, n) or (n,)")
        width = HEAD_FIELDS[name]
        if width is not None and value.shape[-1] != width:
            raise BadInputError(f"{where}: '{name}' has {value.shape[-1]} values per frame, expected {width}")
        if not np.isfinite(value).all():
            raise BadInputError(f"{where}: '{name}' contains NaN or Inf")
        arrays[name] = value.astype(np.float32)
        if value.ndim == 2:
            lengths[name] = value.shape[0]
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} {v}" for k, v in lengths.items())
        raise BadInputError(f"{where}: arrays disagree on the number of frames ({shown})")
    frames = next(iter(lengths.values()), 1)
    if frames < 1:
        raise BadInputError(f"{where}: has zero frames")
    arrays = {k: (np.broadcast_to(v, (frames, v.shape[0])).copy() if v.ndim == 1 else v) for k, v in arrays.items()}
    return HeadSequence(where, arrays, fps)


def save_head_sequence(path: str | Path, arrays: dict[str, np.ndarray], fps: float = DEFAULT_FPS) -> Path:
    """Write a sequence file atomically (validated first, so a bad sequence is never written)."""
    seq = validate_head_sequence({**{k: np.asarray(v) for k, v in arrays.items()}, "fps": np.float32(fps)}, str(path))
    buffer = io.BytesIO()
    np.savez(buffer, fps=np.float32(seq.fps), **seq.arrays)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)
