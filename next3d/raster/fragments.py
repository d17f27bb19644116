"""What the rasterizer returns per pixel: which face is visible there, where on it, and how deep."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Fragments:
    """Per-pixel rasterization result of a batch of views.

    face_id: (B, H, W) int32, index into the rasterized `faces`, -1 where no face covers the pixel centre.
    bary:    (B, H, W, 3) float32 perspective-correct barycentrics of the face's 3 vertices (0 where empty).
    depth:   (B, H, W) float32 NDC z of the visible surface (smaller is nearer), +inf where empty.
    faces:   (F, 3) the index buffer that was rasterized (what `interpolate` uses by default).
    backend: "cuda" or "reference": which implementation produced this result.
    """

    face_id: torch.Tensor
    bary: torch.Tensor
    depth: torch.Tensor
    faces: torch.Tensor
    backend: str

    @property
    def mask(self) -> torch.Tensor:
        """(B, H, W) bool: True where a face is visible."""
        return self.face_id >= 0

    @property
    def resolution(self) -> tuple[int, int]:
        """(H, W) of the rasterized views."""
        return int(self.face_id.shape[1]), int(self.face_id.shape[2])
