"""Left/right symmetry of head models: mirror partners of named bases and of vertices."""

from __future__ import annotations

import numpy as np
import torch


def mirror_name_permutation(names: list[str]) -> torch.Tensor:
    """(N,) long: for each name, the index of its mirror partner (Left <-> Right, left <-> right, _l <-> _r).

    Names without a side (or whose partner is absent) map to themselves.
    """
    index = {name: i for i, name in enumerate(names)}
    perm = []
    for i, name in enumerate(names):
        partner = _swap_side(name)
        perm.append(index.get(partner, i) if partner is not None else i)
    return torch.tensor(perm, dtype=torch.long)


def _swap_side(name: str) -> str | None:
    for a, b in (("Left", "Right"), ("left", "right"), ("_l", "_r"), (".L", ".R")):
        if a in name:
            return name.replace(a, b)
        if b in name:
            return name.replace(b, a)
    return None


def mirror_vertex_map(vertices: np.ndarray, tolerance: float) -> np.ndarray | None:
    """(V,) int64 partner of each vertex under x -> -x (nearest mirrored vertex), or None if the mesh is
    not symmetric within `tolerance` (native units) or the matching is not one-to-one."""
    v = torch.as_tensor(np.asarray(vertices), dtype=torch.float64)
    mirrored = v * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    partner = torch.empty(v.shape[0], dtype=torch.long)
    worst = 0.0
    for start in range(0, v.shape[0], 2048):  # chunks keep the distance matrix small
        d = torch.cdist(mirrored[start:start + 2048], v)
        best = d.min(dim=1)
        partner[start:start + 2048] = best.indices
        worst = max(worst, float(best.values.max()))
    if worst > tolerance or not torch.equal(partner[partner], torch.arange(v.shape[0])):
        return None
    return partner.numpy()
