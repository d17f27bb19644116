"""Latents that do not come from seeds (diffusion samples, inversions), kept as content-addressed W+ files.

`wplus-<16 hex digits of the SHA-256 of the values>.npz` holds `w` (num_ws, w_dim) float32 and `source` (one
line: where the latent came from). The name is a function of the values, so `RenderArgs.latent_file` stays a
plain comparable string, equal latents share one file, and a saved view state keeps pointing at the same latent.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from next3d.errors import BadInputError
from next3d.utils.atomic import atomic_write_bytes

FILE_PREFIX = "wplus-"
SAMPLED = "diffusion sample"     # first words of `source` for a latent drawn from a diffusion prior
INVERTED = "inversion"           # ... for a latent fitted to a photo


def store_wplus(folder: str | Path, w, source: str) -> Path:
    """Write (num_ws, w_dim) `w` into `folder` under its content name (atomically; reused when present)."""
    w = np.ascontiguousarray(np.asarray(w, dtype=np.float32))
    if w.ndim == 3 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 2:
        raise BadInputError(f"latent to store: expected (num_ws, w_dim), got shape {w.shape}")
    if not np.isfinite(w).all():
        raise BadInputError("latent to store: contains NaN or Inf")
    digest = hashlib.sha256(np.asarray(w.shape, np.int64).tobytes() + w.tobytes()).hexdigest()[:16]
    path = Path(folder).expanduser() / f"{FILE_PREFIX}{digest}.npz"
    if not path.is_file():
        buffer = io.BytesIO()
        np.savez(buffer, w=w, source=np.array(str(source).splitlines()[0] if source else ""))
        atomic_write_bytes(path, buffer.getvalue())
    return path


def latent_source(path: str | Path) -> str:
    """The `source` line of a latent file; '' when it has none or cannot be read (the renderer reports why)."""
    try:
        with np.load(Path(path).expanduser(), allow_pickle=False) as data:
            return str(data["source"]) if "source" in data.files else ""
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return ""
