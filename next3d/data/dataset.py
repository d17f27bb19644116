"""`HeadDataset`: a torch Dataset over an EG3D-layout folder or zip with optional head data per image."""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

from next3d.data.image_io import decode_image
from next3d.data.sample import HeadSample
from next3d.data.validate import OpenedDataset, open_dataset
from next3d.data.vertex_io import load_vertices
from next3d.data.xflip import HeadMirror, flip_image, mirror_labels
from next3d.errors import BadInputError


class HeadDataset(torch.utils.data.Dataset):
    """Images, cameras and head parameters (or vertices) of a dataset, validated on open.

    `resolution`: resize every image to this size (said once) instead of requiring the stored size.
    `xflip`: 2N samples, the second half mirrored left-right (image, camera and head data consistently).
    `max_size`: use only the first `max_size` entries. `skip_bad`: drop bad entries (see `.skipped`)
    instead of raising. `head`: the HeadModel the head data belongs to (needed to mirror head data; the
    built-in head is loaded when the dataset names it).
    """

    def __init__(self, path: str | os.PathLike, resolution: int | None = None, xflip: bool = False,
                 max_size: int | None = None, skip_bad: bool = False, head=None, warn=None):
        warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
        self.opened: OpenedDataset = open_dataset(path, skip_bad=skip_bad)
        if resolution is not None and (not isinstance(resolution, int) or resolution <= 0):
            raise BadInputError(f"resolution must be a positive int, got {resolution!r}")
        if resolution is not None and resolution != self.opened.stored_resolution:
            warn(f"{self.opened.storage.path}: images are {self.opened.stored_resolution}^2, resized to "
                 f"{resolution}^2 on load")
        if self.opened.skipped:
            warn(f"{self.opened.storage.path}: skipped {self.opened.skipped} bad entr"
                 f"{'y' if self.opened.skipped == 1 else 'ies'} of {self.opened.total_entries}")
        index = self.opened.index
        if max_size is not None:
            if max_size <= 0:
                raise BadInputError(f"max_size must be positive, got {max_size}")
            index = index.subset(list(range(min(max_size, len(index)))))
        self.index = index
        self.resolution = resolution or self.opened.stored_resolution
        self.xflip = bool(xflip)
        self.labels = torch.from_numpy(index.labels.astype(np.float32))
        self.head_vectors = None if index.head is None else torch.from_numpy(index.head.astype(np.float32))
        self.mirror = HeadMirror.for_dataset(index, self.opened.vertex_count, head) if xflip else None
        self.mirrored_labels = mirror_labels(self.labels) if xflip else None
        self.mirrored_head = None
        if self.mirror is not None and self.head_vectors is not None:
            self.mirrored_head = self.mirror.vectors(self.head_vectors)

    @property
    def skipped(self) -> int:
        """How many bad entries were dropped (with skip_bad=True)."""
        return self.opened.skipped

    @property
    def head_section(self):
        """The dataset's HeadSection (fields, sizes, head model name/hash) or None."""
        return self.index.head_section

    def __len__(self) -> int:
        return len(self.index) * (2 if self.xflip else 1)

    def __getitem__(self, item: int) -> HeadSample:
        n = len(self.index)
        if not -len(self) <= item < len(self):
            raise IndexError(f"sample {item} out of range for {len(self)} samples")
        item %= len(self)
        i, flipped = item % n, item >= n
        name = self.index.names[i]
        try:
            pixels = decode_image(self.opened.storage.read(name), self.resolution)
            vertices = None
            if self.index.vertex_files is not None:
                vertices = torch.from_numpy(load_vertices(self.opened.storage.read(self.index.vertex_files[i])))
        except ValueError as exc:
            raise BadInputError(f"{self.opened.storage.path}: {name}: {exc}") from None
        image = torch.from_numpy(pixels).permute(2, 0, 1)
        label, head = self.labels[i], None if self.head_vectors is None else self.head_vectors[i]
        if flipped:
            image, label = flip_image(image), self.mirrored_labels[i]
            head = None if head is None else self.mirrored_head[i]
            vertices = None if vertices is None else self.mirror.vertices(vertices)
        return HeadSample(image=image.contiguous(), label=label.clone(), head=None if head is None else head.clone(),
                          vertices=vertices, index=i, flipped=flipped)
