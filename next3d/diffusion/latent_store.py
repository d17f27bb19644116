"""A folder of fixed-size memory-mapped .npy shards: latents, cameras, head parameters and images per sample.

Layout (`DIR/`):
    index.json                              fields (per-sample shape, dtype), count, shard size, source
    shards/<start:010d>-<stop:010d>/<field>.npy   one .npy per field, rows [start, stop) of the store
    stats.npz                               per-element statistics of the latent fields (latent_stats.py)

A shard folder appears only when it is complete (written under a temporary name, then renamed), so a rerun
resumes at the first missing shard. Shard k holds samples [k * shard_size, (k + 1) * shard_size); in a run of
world size W, rank r writes the shards k with k % W == r, so the folder is identical whatever W was.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from next3d.errors import BadInputError
from next3d.utils.atomic import atomic_write_text

STORE_FORMAT = 1
INDEX_NAME = "index.json"
SHARDS_DIR = "shards"
STATS_NAME = "stats.npz"


@dataclass(frozen=True)
class FieldSpec:
    """One per-sample array: its shape without the sample axis and its numpy dtype name."""

    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class StoreLayout:
    """What a store holds; two runs may write into one folder only when their layouts are equal."""

    count: int
    shard_size: int
    fields: dict[str, FieldSpec]
    latent_fields: tuple[str, ...]          # the fields a prior can be trained on (e.g. "wplus", "style")
    source: dict = field(default_factory=dict)  # how the samples were made (generator, seeds, truncation ...)

    def to_json(self) -> dict:
        return {"format": STORE_FORMAT, "count": self.count, "shard_size": self.shard_size,
                "fields": {k: {"shape": list(v.shape), "dtype": v.dtype} for k, v in self.fields.items()},
                "latent_fields": list(self.latent_fields), "source": self.source}

    @staticmethod
    def from_json(doc: dict, where: str) -> StoreLayout:
        try:
            if doc.get("format", 0) > STORE_FORMAT:
                raise BadInputError(f"{where}: latent store format {doc['format']} is newer than this version "
                                    f"understands ({STORE_FORMAT})")
            fields = {k: FieldSpec(tuple(int(s) for s in v["shape"]), str(np.dtype(v["dtype"])))
                      for k, v in doc["fields"].items()}
            layout = StoreLayout(int(doc["count"]), int(doc["shard_size"]), fields,
                                 tuple(doc["latent_fields"]), dict(doc.get("source", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(f"{where}: malformed latent store index ({type(exc).__name__}: {exc})") from None
        layout.validate(where)
        return layout

    def validate(self, where: str) -> None:
        if self.count < 1 or self.shard_size < 1:
            raise BadInputError(f"{where}: count and shard size must be positive (got {self.count}, {self.shard_size})")
        missing = [name for name in self.latent_fields if name not in self.fields]
        if missing:
            raise BadInputError(f"{where}: latent field(s) {', '.join(missing)} not among the stored fields")

    @property
    def num_shards(self) -> int:
        return -(-self.count // self.shard_size)

    def shard(self, k: int) -> ShardRange:
        return ShardRange(k, k * self.shard_size, min(self.count, (k + 1) * self.shard_size))


@dataclass(frozen=True)
class ShardRange:
    """Shard number `index` holds the samples [start, stop)."""

    index: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"{self.start:010d}-{self.stop:010d}"

    def __len__(self) -> int:
        return self.stop - self.start


class LatentStoreWriter:
    """Creates a store (or reopens one with an equal layout) and writes whole shards atomically."""

    def __init__(self, path: str | os.PathLike, layout: StoreLayout):
        self.path = Path(path)
        layout.validate(str(self.path))
        self.layout = layout
        index = self.path / INDEX_NAME
        if not index.exists():
            foreign = [p.name for p in self.path.iterdir() if not _store_entry(p.name)] if self.path.exists() else []
            if foreign:
                raise BadInputError(f"{self.path}: folder exists, is not empty and is not a latent store "
                                    f"(holds {', '.join(sorted(foreign)[:3])})")
            # Several ranks may create the store at once: each writes the same index atomically.
            atomic_write_text(index, json.dumps(layout.to_json(), indent=1, sort_keys=True))
        existing = read_layout(self.path)
        if existing != layout:
            raise BadInputError(f"{self.path}: a latent store with other settings is already there "
                                f"({_layout_difference(existing, layout)}); choose another --out or delete it")
        (self.path / SHARDS_DIR).mkdir(parents=True, exist_ok=True)

    def pending_shards(self, rank: int = 0, world_size: int = 1) -> list[ShardRange]:
        """The shards rank `rank` of `world_size` still has to write."""
        return pending_shards(self.path, self.layout, rank, world_size)

    def all_complete(self) -> bool:
        return not self.pending_shards()

    @contextmanager
    def open_shard(self, shard: ShardRange) -> Iterator[dict[str, np.ndarray]]:
        """Yield writable memory-mapped arrays (len(shard), *shape) per field; on success the shard appears."""
        final = self.path / SHARDS_DIR / shard.name
        for stale in (self.path / SHARDS_DIR).glob(f".{shard.name}.tmp-*"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        tmp = self.path / SHARDS_DIR / f".{shard.name}.tmp-{os.getpid()}"
        tmp.mkdir(parents=True)
        arrays: dict[str, np.ndarray] = {}
        try:
            for name, spec in self.layout.fields.items():
                arrays[name] = np.lib.format.open_memmap(tmp / f"{name}.npy", mode="w+", dtype=np.dtype(spec.dtype),
                                                         shape=(len(shard), *spec.shape))
            yield arrays
            for array in arrays.values():
                array.flush()
            arrays.clear()
            if final.exists():  # another process finished the same shard first: contents are identical
                shutil.rmtree(tmp)
            else:
                os.replace(tmp, final)
        except BaseException:
            arrays.clear()
            shutil.rmtree(tmp, ignore_errors=True)
            raise


class ShardedArray:
    """Read-only view of one field across all shards: `len`, integer / slice / index-array access."""

    def __init__(self, shards: list[np.ndarray], shard_size: int, spec: FieldSpec):
        self._shards = shards
        self._shard_size = shard_size
        self.spec = spec
        self.shape = (sum(len(s) for s in shards), *spec.shape)
        self.dtype = np.dtype(spec.dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return np.array(self.take(np.array([key]))[0])
        if isinstance(key, slice):
            return self.take(np.arange(len(self))[key])
        return self.take(np.asarray(key))

    def take(self, indices: np.ndarray) -> np.ndarray:
        """Rows at `indices` (any order, repeats allowed) as an in-memory array."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < -len(self) or indices.max() >= len(self)):
            raise IndexError(f"index out of range for a store of {len(self)} samples")
        indices = np.where(indices < 0, indices + len(self), indices)
        out = np.empty((len(indices), *self.spec.shape), dtype=self.dtype)
        shard_of = indices // self._shard_size
        for k in np.unique(shard_of):
            sel = np.nonzero(shard_of == k)[0]
            out[sel] = self._shards[k][indices[sel] - k * self._shard_size]
        return out


class LatentStore:
    """A complete store opened for reading; arrays are memory-mapped, nothing is loaded up front."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.layout = read_layout(self.path)
        pending = pending_shards(self.path, self.layout)
        if pending:
            raise BadInputError(f"{self.path}: incomplete latent store ({len(pending)} of {self.layout.num_shards} "
                                f"shards missing, first: samples {pending[0].start}-{pending[0].stop}); rerun "
                                "save-samples with the same arguments to finish it")
        self._fields: dict[str, ShardedArray] = {}

    def __len__(self) -> int:
        return self.layout.count

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.layout.fields)

    def field(self, name: str) -> ShardedArray:
        if name not in self.layout.fields:
            raise BadInputError(f"{self.path}: no field '{name}' (it holds: {', '.join(self.layout.fields)})")
        if name not in self._fields:
            spec = self.layout.fields[name]
            shards = []
            for k in range(self.layout.num_shards):
                shard = self.layout.shard(k)
                file = self.path / SHARDS_DIR / shard.name / f"{name}.npy"
                shards.append(_open_npy(file, (len(shard), *spec.shape), np.dtype(spec.dtype)))
            self._fields[name] = ShardedArray(shards, self.layout.shard_size, spec)
        return self._fields[name]

    def __getitem__(self, name: str) -> ShardedArray:
        return self.field(name)


def read_layout(path: str | os.PathLike) -> StoreLayout:
    """The layout recorded in a store's index.json."""
    path = Path(path)
    index = path / INDEX_NAME
    if not index.is_file():
        raise BadInputError(f"{path}: not a latent store (no {INDEX_NAME}; make one with "
                            "`python -m next3d save-samples`)")
    try:
        doc = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{index}: unreadable latent store index ({exc})") from None
    return StoreLayout.from_json(doc, str(index))


def pending_shards(path: Path, layout: StoreLayout, rank: int = 0, world_size: int = 1) -> list[ShardRange]:
    """The shards of rank `rank` (of `world_size`) whose folder does not exist yet."""
    shards = (layout.shard(k) for k in range(rank, layout.num_shards, world_size))
    return [s for s in shards if not (path / SHARDS_DIR / s.name).is_dir()]


def _open_npy(file: Path, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    try:
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{file}: unreadable shard ({exc})") from None
    if array.shape != shape or array.dtype != dtype:
        raise BadInputError(f"{file}: shard holds {array.dtype}{list(array.shape)}, index says {dtype}{list(shape)}")
    return array


def _store_entry(name: str) -> bool:
    """Whether a folder entry belongs to a store (possibly one another process is creating right now)."""
    return name in (INDEX_NAME, SHARDS_DIR, STATS_NAME, "logs") or name.startswith(f".{INDEX_NAME}.tmp.")


def _layout_difference(a: StoreLayout, b: StoreLayout) -> str:
    ja, jb = a.to_json(), b.to_json()
    diffs = [f"{k}: {ja[k]!r} there vs {jb[k]!r} now" for k in ja if ja[k] != jb.get(k)]
    return "; ".join(diffs)[:400]
