"""Procedural meshes for rasterizer tests and benchmarks (closed, outward counter-clockwise winding)."""

from __future__ import annotations

import torch


def icosphere(subdivisions: int = 3, radius: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A unit-ish sphere: vertices (N, 3) float32, faces (20 * 4^s, 3) int64 wound CCW seen from outside."""
    t = (1.0 + 5.0 ** 0.5) / 2.0
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
             (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
             (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11),
             (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    v = torch.nn.functional.normalize(torch.tensor(verts, dtype=torch.float64), dim=-1)
    f = torch.tensor(faces, dtype=torch.int64)
    for _ in range(subdivisions):
        edges = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]).sort(dim=1).values
        unique, inverse = torch.unique(edges, dim=0, return_inverse=True)
        mid = torch.nn.functional.normalize(v[unique[:, 0]] + v[unique[:, 1]], dim=-1)
        m = (inverse + v.shape[0]).reshape(3, -1).T  # midpoints of edges (01, 12, 20) per face
        v = torch.cat([v, mid])
        f = torch.cat([torch.stack([f[:, 0], m[:, 0], m[:, 2]], 1), torch.stack([f[:, 1], m[:, 1], m[:, 0]], 1),
                       torch.stack([f[:, 2], m[:, 2], m[:, 1]], 1), m])
    return (v * radius).to(torch.float32), f


def random_soup(n_faces: int, batch: int = 1, spread: float = 1.2, size: float = 0.3, *,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random overlapping triangles as clip coords (batch, 3F, 4) with w = 1 and faces (F, 3) int64.

    Vertices are snapped to a 1/64 grid so that many faces share exact edges, depths and pixel-centre hits
    (tie and edge rules get exercised).
    """
    centres = (torch.rand(batch, n_faces, 1, 3, generator=generator) * 2 - 1) * spread
    offsets = (torch.rand(batch, n_faces, 3, 3, generator=generator) * 2 - 1) * size
    xyz = torch.round((centres + offsets) * 64) / 64
    xyz[..., 2] = xyz[..., 2].clamp(-1, 1)
    clip = torch.cat([xyz, torch.ones_like(xyz[..., :1])], dim=-1).reshape(batch, 3 * n_faces, 4)
    return clip, torch.arange(3 * n_faces).reshape(n_faces, 3)
