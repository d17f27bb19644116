"""Interpolating per-vertex attributes (UVs, colours, normals) at the rasterized pixels."""

from __future__ import annotations

import torch

from next3d.errors import BadInputError
from next3d.raster.fragments import Fragments
from next3d.raster.inputs import describe


def interpolate(attr: torch.Tensor, fragments: Fragments, attr_faces: torch.Tensor | None = None, *,
                check: bool = True) -> torch.Tensor:
    """Barycentric interpolation of attr (N, C) or (Ba, N, C) at every pixel: (B, H, W, C), zero where empty.

    attr_faces (F, 3) indexes attr per face (e.g. uv_faces for UVs); default: the rasterized faces.
    With Ba < B, views are folded batch-major (fragment b uses attr b // (B // Ba)), as plane_views does.
    Differentiable with respect to attr. check=False skips the index-range check (a device sync).
    """
    faces = fragments.faces if attr_faces is None else attr_faces
    batch = fragments.face_id.shape[0]
    _check(attr, faces, fragments, batch, check)
    face = fragments.face_id.clamp(min=0).long()  # (B, H, W)
    corner = faces.long()[face]  # (B, H, W, 3)
    if attr.ndim == 2:
        values = attr[corner]  # (B, H, W, 3, C)
    else:
        owner = torch.arange(batch, device=attr.device) // (batch // attr.shape[0])
        values = attr[owner[:, None, None, None], corner]
    weights = fragments.bary.to(attr.dtype)
    out = (values[..., 0, :] * weights[..., 0, None] + values[..., 1, :] * weights[..., 1, None]
           + values[..., 2, :] * weights[..., 2, None])
    return out * fragments.mask[..., None].to(attr.dtype)


def _check(attr, faces, fragments: Fragments, batch: int, check: bool) -> None:
    if not isinstance(attr, torch.Tensor) or attr.ndim not in (2, 3) or not attr.dtype.is_floating_point:
        raise BadInputError(f"interpolate: attr must be a float (N, C) or (B, N, C) tensor, got "
                            f"{describe(attr)}")
    if attr.ndim == 3 and (attr.shape[0] == 0 or batch % attr.shape[0]):
        raise BadInputError(f"interpolate: attr batch {attr.shape[0]} must divide the fragments' batch {batch}")
    if attr.device != fragments.face_id.device:
        raise BadInputError(f"interpolate: attr is on {attr.device} but the fragments are on "
                            f"{fragments.face_id.device}")
    if (not isinstance(faces, torch.Tensor) or faces.ndim != 2 or faces.shape[1] != 3
            or faces.dtype not in (torch.int32, torch.int64)):
        raise BadInputError("interpolate: attr_faces must be an (F, 3) int32/int64 tensor")
    if faces.shape[0] != fragments.faces.shape[0]:
        raise BadInputError(f"interpolate: attr_faces has {faces.shape[0]} faces but the mesh was rasterized "
                            f"with {fragments.faces.shape[0]}")
    if faces.device != attr.device:
        raise BadInputError(f"interpolate: attr_faces is on {faces.device} but attr is on {attr.device}")
    n_attr = attr.shape[-2]
    if check and faces.numel() and (int(faces.max()) >= n_attr or int(faces.min()) < 0):
        raise BadInputError(f"interpolate: attr_faces index entry {int(faces.max())} (min {int(faces.min())}) "
                            f"but attr has {n_attr} entries")
