"""Per-image vertex files: .npy arrays (V, 3) of floats, read with allow_pickle=False (never runs code)."""

from __future__ import annotations

import io

import numpy as np


def read_npy_shape(fileobj) -> tuple[tuple[int, ...] | None, str | None]:
    """(shape, None) from a .npy header, or (None, why the file is not a float (V, 3) array)."""
    try:
        version = np.lib.format.read_magic(fileobj)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fileobj)
        else:
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fileobj)
    except (ValueError, OSError, EOFError) as exc:
        return None, f"vertex file is not a .npy array ({exc})"
    if dtype.kind != "f":
        return None, f"vertex file holds {dtype} values, expected floats"
    if len(shape) != 2 or shape[1] != 3:
        return None, f"vertex file has shape {tuple(shape)}, expected (V, 3)"
    return tuple(shape), None


def load_vertices(data: bytes) -> np.ndarray:
    """(V, 3) float32 vertices from .npy bytes; ValueError naming the problem if unusable."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"vertex file is not a readable .npy array ({exc})") from None
    if array.dtype.kind != "f" or array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"vertex file holds {array.dtype} {tuple(array.shape)}, expected float (V, 3)")
    if not np.isfinite(array).all():
        raise ValueError("vertex file contains NaN or Inf")
    return array.astype(np.float32)


def encode_npy(vertices: np.ndarray) -> bytes:
    """.npy bytes of a float32 (V, 3) array."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(vertices, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()
