"""Typed samples and batches that the dataset hands to the trainer."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class HeadSample:
    """One training example.

    image: (3, H, W) uint8; label: (25,) float32 EG3D camera; head: (D,) float32 head-parameter vector
    (HeadParams.to_vector order) or None; vertices: (V, 3) float32 in the head model's native units or
    None; index: entry position in the opened dataset; flipped: True for the x-mirrored copy.
    """

    image: torch.Tensor
    label: torch.Tensor
    head: torch.Tensor | None
    vertices: torch.Tensor | None
    index: int
    flipped: bool


@dataclass
class HeadBatch:
    """A stack of samples: image (B, 3, H, W) uint8, label (B, 25), head (B, D) | None, vertices (B, V, 3) | None,
    index (B,) int64, flipped (B,) bool."""

    image: torch.Tensor
    label: torch.Tensor
    head: torch.Tensor | None
    vertices: torch.Tensor | None
    index: torch.Tensor
    flipped: torch.Tensor

    def to(self, device) -> HeadBatch:
        return HeadBatch(*(None if t is None else t.to(device, non_blocking=True) for t in
                           (self.image, self.label, self.head, self.vertices, self.index, self.flipped)))


def collate_samples(samples: list[HeadSample]) -> HeadBatch:
    """Stack samples into a batch (the `collate_fn` for torch DataLoader)."""
    return HeadBatch(
        image=torch.stack([s.image for s in samples]),
        label=torch.stack([s.label for s in samples]),
        head=_stack_optional([s.head for s in samples]),
        vertices=_stack_optional([s.vertices for s in samples]),
        index=torch.tensor([s.index for s in samples], dtype=torch.int64),
        flipped=torch.tensor([s.flipped for s in samples], dtype=torch.bool),
    )


def _stack_optional(tensors: list[torch.Tensor | None]) -> torch.Tensor | None:
    return None if tensors[0] is None else torch.stack(tensors)
