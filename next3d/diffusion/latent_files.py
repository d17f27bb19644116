"""Latents on disk outside a store: reading them from a store, .npy or .npz, and writing sampled latents.

Written by sample-diffusion: `latents.npz` = {"latents": (N, L, D) float32, "kind": "wplus"|"style",
"seeds": (N,) int64}, plus one `sample-<seed>.npz` per sample holding "w" (num_ws, w_dim) for W+ latents
(the visualizer's latent-file format, so a sample opens in the GUI) or "style" (L, D).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from next3d.diffusion.latent_store import INDEX_NAME, LatentStore
from next3d.errors import BadInputError, UnsafeFileError
from next3d.utils.atomic import atomic_write_bytes

LATENT_KEYS = ("latents", "w", "wplus", "style")


@dataclass(frozen=True)
class LoadedLatents:
    """(N, L, D) float32 latents, their kind when the file says it (else None), and per-row names for outputs."""

    latents: np.ndarray
    kind: str | None
    names: list[str]


def load_latents(path: str | Path, field: str | None = None, indices: list[int] | None = None) -> LoadedLatents:
    """Latents from a store folder (field default: its first latent field), a .npy or a .npz file."""
    path = Path(path).expanduser()
    if path.is_dir() and (path / INDEX_NAME).exists():
        store = LatentStore(path)
        field = field or store.layout.latent_fields[0]
        if field not in store.layout.latent_fields:
            raise BadInputError(f"{path}: no latent field '{field}' (it has {', '.join(store.layout.latent_fields)})")
        rows = list(range(len(store))) if indices is None else _checked(indices, len(store), path)
        latents = store.field(field).take(np.asarray(rows, dtype=np.int64)).astype(np.float32)
        seeds = store.field("seed").take(np.asarray(rows, dtype=np.int64)) if "seed" in store.layout.fields else rows
        return LoadedLatents(latents, field, [f"seed{int(s):06d}" for s in seeds])
    if not path.is_file():
        raise BadInputError(f"{path}: no such latent file or latent store folder")
    arrays, kind, seeds = _read_arrays(path, field)
    latents = arrays if arrays.ndim == 3 else arrays[None]
    if latents.ndim != 3:
        raise BadInputError(f"{path}: latents have shape {tuple(arrays.shape)}, expected (N, L, D) or (L, D)")
    rows = list(range(len(latents))) if indices is None else _checked(indices, len(latents), path)
    if seeds is not None and len(seeds) == len(latents):
        names = [f"seed{int(seeds[i]):06d}" for i in rows]
    else:
        names = [f"{path.stem}-{i:04d}" for i in rows]
    return LoadedLatents(latents[rows].astype(np.float32), kind, names)


def save_sampled_latents(folder: str | Path, latents: np.ndarray, kind: str, seeds: list[int]) -> list[Path]:
    """Write latents.npz and one sample-<seed>.npz per row (atomically); returns the per-sample paths."""
    folder = Path(folder)
    latents = np.asarray(latents, dtype=np.float32)
    _write_npz(folder / "latents.npz", latents=latents, kind=np.array(kind), seeds=np.asarray(seeds, dtype=np.int64))
    key = "w" if kind == "wplus" else "style"
    paths = []
    for row, seed in zip(latents, seeds):
        paths.append(folder / f"sample-{seed:06d}.npz")
        _write_npz(paths[-1], **{key: row})
    return paths


def _read_arrays(path: Path, field: str | None) -> tuple[np.ndarray, str | None, np.ndarray | None]:
    """(latents, kind or None, seeds or None) of a .npy / .npz file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if isinstance(data, np.ndarray):
                return np.asarray(data, dtype=np.float32), None, None
            files = set(data.files)
            kind = str(data["kind"]) if "kind" in files else None
            keys = [field] if field else [k for k in LATENT_KEYS if k in files]
            if not keys or keys[0] not in files:
                raise BadInputError(f"{path}: no latent array {'(' + field + ') ' if field else ''}in it "
                                    f"(looked for {', '.join(keys or LATENT_KEYS)}; it has {', '.join(sorted(files))})")
            key = keys[0]
            if kind is None:
                kind = {"w": "wplus", "wplus": "wplus", "style": "style"}.get(key)
            seeds = np.asarray(data["seeds"]).reshape(-1) if "seeds" in files else None
            return np.asarray(data[key], dtype=np.float32), kind, seeds
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise UnsafeFileError(f"{path}: holds pickled Python objects; refusing to load it") from None
        raise BadInputError(f"{path}: not a readable .npy/.npz file ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise BadInputError(f"{path}: not a readable .npy/.npz file ({exc})") from None


def _checked(indices: list[int], count: int, where: Path) -> list[int]:
    bad = [i for i in indices if not 0 <= i < count]
    if bad:
        raise BadInputError(f"{where}: index {bad[0]} out of range (it holds {count} latents)")
    return list(indices)


def _write_npz(path: Path, **arrays) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())
