"""Per-element statistics of a store's latent fields (min, max, mean, std over all samples), kept in stats.npz.

Computed in float64 shard by shard (Chan's parallel update), in shard order, so the file is bit-identical
however many processes wrote the shards. Keys in stats.npz: "<field>.count|min|max|mean|std".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from next3d.diffusion.latent_store import STATS_NAME, LatentStore
from next3d.errors import BadInputError
from next3d.utils.atomic import atomic_path

STAT_NAMES = ("min", "max", "mean", "std")


@dataclass(frozen=True)
class LatentStats:
    """Statistics of one latent field; every array has the field's per-sample shape, e.g. (num_ws, w_dim)."""

    count: int
    min: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @staticmethod
    def of(samples: np.ndarray) -> LatentStats:
        """Statistics of an in-memory batch (N, *shape)."""
        x = np.asarray(samples, dtype=np.float64)
        return LatentStats(len(x), x.min(0), x.max(0), x.mean(0), x.std(0))


def compute_field_stats(store: LatentStore, name: str, rows_per_chunk: int = 65536) -> LatentStats:
    """Stream over field `name` in sample order and merge chunk statistics exactly (float64)."""
    array = store.field(name)
    count, mean, m2 = 0, None, None
    lo = hi = None
    for start in range(0, len(array), rows_per_chunk):
        x = np.asarray(array[start:start + rows_per_chunk], dtype=np.float64)
        n, chunk_mean = len(x), x.mean(0)
        chunk_m2 = ((x - chunk_mean) ** 2).sum(0)
        if mean is None:
            count, mean, m2, lo, hi = n, chunk_mean, chunk_m2, x.min(0), x.max(0)
            continue
        delta = chunk_mean - mean
        total = count + n
        mean = mean + delta * (n / total)
        m2 = m2 + chunk_m2 + delta ** 2 * (count * n / total)
        lo, hi, count = np.minimum(lo, x.min(0)), np.maximum(hi, x.max(0)), total
    return LatentStats(count, lo, hi, mean, np.sqrt(m2 / count))


def write_store_stats(store: LatentStore) -> dict[str, LatentStats]:
    """Compute the statistics of every latent field of `store` and write stats.npz beside its index."""
    stats = {name: compute_field_stats(store, name) for name in store.layout.latent_fields}
    save_stats(store.path / STATS_NAME, stats)
    return stats


def save_stats(path: str | os.PathLike, stats: dict[str, LatentStats]) -> None:
    """Write statistics of several fields to one .npz (atomically, no pickled objects)."""
    arrays = {}
    for name, s in stats.items():
        arrays[f"{name}.count"] = np.array(s.count, dtype=np.int64)
        for stat in STAT_NAMES:
            arrays[f"{name}.{stat}"] = np.asarray(getattr(s, stat), dtype=np.float64)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_stats(path: str | os.PathLike, name: str) -> LatentStats:
    """Statistics of field `name` from a stats.npz (or from a store folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / STATS_NAME
    if not path.is_file():
        raise BadInputError(f"{path}: no normalization statistics (save-samples writes them when the store "
                            "is complete)")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            if f"{name}.count" not in keys:
                fields = sorted({k.rsplit('.', 1)[0] for k in keys})
                raise BadInputError(f"{path}: no statistics for '{name}' (it has: {', '.join(fields)})")
            values = {stat: np.array(data[f"{name}.{stat}"]) for stat in STAT_NAMES}
            count = int(data[f"{name}.count"])
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: unreadable statistics file ({exc})") from None
    shapes = {v.shape for v in values.values()}
    if len(shapes) != 1:
        raise BadInputError(f"{path}: statistics of '{name}' have mismatched shapes {sorted(shapes)}")
    return LatentStats(count, **values)
