"""The training data: real images in stream order, and the pool of (camera, head state) pairs that
generated images are conditioned on (the dataset's own cameras and head parameters)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from next3d.data import HeadDataset, collate_samples
from next3d.data.head_link import head_for_section
from next3d.errors import BadInputError
from next3d.train.sampler import StreamSampler


@dataclass
class ConditionPool:
    """Camera labels (N, 25) and head vectors (N, D) or None, paired by row, on the training device."""

    labels: torch.Tensor
    heads: torch.Tensor | None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def sample(self, count: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`count` random (label, head) rows (torch's global CPU generator: seeded per micro-batch)."""
        index = torch.randint(len(self), (count,)).to(self.labels.device)
        return self.labels[index], None if self.heads is None else self.heads[index]

    def rows(self, count: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`count` rows evenly spread over the pool (fixed: for grids)."""
        index = torch.linspace(0, len(self) - 1, count).round().long().to(self.labels.device)
        return self.labels[index], None if self.heads is None else self.heads[index]


@dataclass
class RealBatch:
    """One micro-batch of real data on the device: image (B, 3, H, W) in [-1, 1], label (B, 25), and the
    head state of each image (vectors (B, D), vertices (B, V, 3) or None)."""

    image: torch.Tensor
    label: torch.Tensor
    head: torch.Tensor | None
    vertices: torch.Tensor | None


def open_training_data(path: str, head, resolution: int, xflip: bool, warn=None) -> HeadDataset:
    """Open and check a dataset for a generator of `resolution` built on `head`.

    Larger images are resized (said once); smaller ones, another head model, or vertices of another vertex
    count are refused with BadInputError naming what differs.
    """
    warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
    dataset = HeadDataset(path, resolution=resolution, xflip=xflip, head=head, warn=warn)
    if dataset.head_section is not None or dataset.index.vertex_files is not None:
        try:
            head_for_section(dataset.head_section, head)  # same hash and field sizes
        except BadInputError as exc:
            raise BadInputError(f"{path}: {exc} (the generator is built on head '{head.name}')") from None
    stored = dataset.opened.stored_resolution
    if stored < resolution:
        raise BadInputError(f"{path}: images are {stored}x{stored} but the generator trains at "
                            f"{resolution}x{resolution}; make the dataset at >= {resolution} (dataset synth --res "
                            f"{resolution}) or pick a smaller preset")
    vertex_count = dataset.opened.vertex_count
    if dataset.head_section is None and vertex_count is not None and vertex_count != head.num_vertices:
        raise BadInputError(f"{path}: vertex files have {vertex_count} vertices but head '{head.name}' has "
                            f"{head.num_vertices}; train with the head model they belong to (--head)")
    return dataset


def condition_pool(dataset: HeadDataset, device: torch.device) -> ConditionPool:
    """All (camera, head vector) pairs of the dataset, mirrored copies included when it x-flips."""
    labels, heads = dataset.labels, dataset.head_vectors
    if dataset.xflip:
        labels = torch.cat([labels, dataset.mirrored_labels])
        heads = None if heads is None else torch.cat([heads, dataset.mirrored_head])
    return ConditionPool(labels.to(device), None if heads is None else heads.to(device))


def real_loader(dataset: HeadDataset, sampler: StreamSampler, workers: int, device: torch.device):
    """An endless iterator of this process's real micro-batches (HeadBatch on the CPU), in stream order."""
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=sampler.batch_gpu, sampler=sampler, num_workers=workers,
        collate_fn=collate_samples, pin_memory=device.type == "cuda", persistent_workers=workers > 0,
        generator=torch.Generator(),  # keeps the global RNG untouched (its seed is not used: no random ops)
        prefetch_factor=4 if workers > 0 else None)
    return iter(loader)


def to_device(batch, device: torch.device) -> RealBatch:
    """A collated HeadBatch -> RealBatch on `device` with images in [-1, 1]."""
    batch = batch.to(device)
    image = batch.image.to(torch.float32) / 127.5 - 1.0
    return RealBatch(image=image, label=batch.label, head=batch.head, vertices=batch.vertices)


def dataset_name(path: str) -> str:
    """A short name for run directories: the folder or zip name without suffix."""
    name = Path(path).name
    return name[: -len(".zip")] if name.lower().endswith(".zip") else name
