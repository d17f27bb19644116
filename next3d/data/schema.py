"""The parsed contents of a dataset.json: entries (file, camera label, head data) and the head section."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from next3d.head.params import FIELDS, FIXED_SIZES

HEAD_FIELDS = FIELDS  # HeadParams.to_vector order
FIXED_FIELD_SIZES = FIXED_SIZES  # numbers per pose field (jaw, neck, eyes, rotation, translation)
TOP_LEVEL_KEYS = ("labels", "head", "vertices", "meta")
HEAD_KEYS = ("model", "fields", "sizes", "params")


@dataclass(frozen=True)
class HeadSection:
    """Which head model the per-image parameter vectors belong to and how a vector splits into fields."""

    fields: tuple[str, ...]
    sizes: tuple[int, ...]
    model_name: str | None = None
    model_hash: str | None = None

    @property
    def dim(self) -> int:
        return int(sum(self.sizes))

    def to_json(self) -> dict:
        model = {"name": self.model_name, "hash": self.model_hash}
        return {"model": model, "fields": list(self.fields), "sizes": list(self.sizes)}


@dataclass
class DatasetIndex:
    """Every usable entry of a dataset, in dataset.json order.

    names: N image paths (POSIX, relative to the dataset root); labels: (N, 25) float64 EG3D cameras;
    head: (N, head_section.dim) float64 or None; vertex_files: N .npy paths or None.
    """

    names: list[str]
    labels: np.ndarray
    head_section: HeadSection | None = None
    head: np.ndarray | None = None
    vertex_files: list[str] | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, keep: list[int]) -> DatasetIndex:
        """The entries at positions `keep` (in that order)."""
        return DatasetIndex(
            names=[self.names[i] for i in keep],
            labels=self.labels[keep].reshape(len(keep), -1),
            head_section=self.head_section,
            head=None if self.head is None else self.head[keep].reshape(len(keep), -1),
            vertex_files=None if self.vertex_files is None else [self.vertex_files[i] for i in keep],
            meta=self.meta,
        )


@dataclass(frozen=True)
class EntryProblem:
    """One bad entry: its position in dataset.json's labels, its file name, and what is wrong."""

    entry: int
    name: str
    message: str
    section: str = "labels"

    def __str__(self) -> str:
        where = "dataset.json entry" if self.section == "labels" else f"dataset.json {self.section} entry"
        name = f" ({self.name})" if self.name else ""
        return f"{where} {self.entry}{name}: {self.message}"
