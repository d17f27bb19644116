"""Checking and normalizing `rasterize` arguments, with one clear message per mistake."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from next3d.errors import BadInputError

# A string cull mode -> the NDC-area sign of the faces it drops (0: drops none).
CULL_MODES = {"none": 0, "positive": 1, "negative": -1}
MAX_RESOLUTION = 16384


@dataclass(frozen=True)
class RasterInputs:
    """Validated `rasterize` arguments: clip (B, N, 4) float32, faces (F, 3) int32/int64, cull (B,) int32."""

    clip: torch.Tensor
    faces: torch.Tensor
    height: int
    width: int
    cull: torch.Tensor


def describe(value) -> str:
    """A tensor's shape, or another object's type name, for error messages."""
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def parse_resolution(resolution, where: str = "rasterize") -> tuple[int, int]:
    """(H, W) from an int or a pair of positive ints."""
    if isinstance(resolution, int) and not isinstance(resolution, bool):
        resolution = (resolution, resolution)
    try:
        height, width = (int(r) for r in resolution)
        ok = all(int(r) == r for r in resolution)
    except (TypeError, ValueError):
        raise BadInputError(f"{where}: resolution must be an int or (H, W), got {resolution!r}") from None
    if not ok or not (0 < height <= MAX_RESOLUTION and 0 < width <= MAX_RESOLUTION):
        raise BadInputError(f"{where}: resolution {tuple(resolution)} must be positive ints <= {MAX_RESOLUTION}")
    return height, width


def parse_cull(cull, batch: int, device: torch.device, check_values: bool) -> torch.Tensor:
    """The per-view cull sign (B,) int32: +1 drops positive-area faces, -1 negative-area ones, 0 none."""
    if isinstance(cull, str):
        if cull not in CULL_MODES:
            raise BadInputError(f"rasterize: cull={cull!r}; expected one of {sorted(CULL_MODES)} or a (B,) tensor")
        return torch.full((batch,), CULL_MODES[cull], dtype=torch.int32, device=device)
    if not isinstance(cull, torch.Tensor):
        raise BadInputError(f"rasterize: cull must be a string or a (B,) integer tensor, got {type(cull).__name__}")
    if cull.dtype.is_floating_point or cull.dtype.is_complex or cull.dtype == torch.bool:
        raise BadInputError(f"rasterize: cull tensor must be integer (-1, 0, +1), got {cull.dtype}")
    if cull.shape != (batch,):
        raise BadInputError(f"rasterize: cull tensor has shape {tuple(cull.shape)}, expected ({batch},): "
                            "one sign per batch element")
    cull = cull.to(device=device, dtype=torch.int32)
    if check_values and bool((cull.abs() > 1).any()):
        bad = int(torch.nonzero(cull.abs() > 1)[0, 0])
        raise BadInputError(f"rasterize: cull[{bad}] = {int(cull[bad])}; expected -1, 0 or +1")
    return cull.contiguous()


def check_raster_inputs(clip, faces, resolution, cull, check_values: bool) -> RasterInputs:
    """Validate shapes, dtypes and devices (always) and values (index range, finiteness) if `check_values`."""
    if not isinstance(clip, torch.Tensor) or not isinstance(faces, torch.Tensor):
        raise BadInputError(f"rasterize: clip and faces must be torch tensors, got {type(clip).__name__} and "
                            f"{type(faces).__name__}")
    if clip.ndim != 3 or clip.shape[-1] != 4:
        raise BadInputError(f"rasterize: clip must be (B, N, 4) clip-space vertices (x, y, z, w), "
                            f"got shape {tuple(clip.shape)}")
    if clip.dtype != torch.float32:
        raise BadInputError(f"rasterize: clip must be float32, got {clip.dtype}")
    if faces.ndim != 2 or faces.shape[-1] != 3:
        raise BadInputError(f"rasterize: faces must be (F, 3) vertex indices, got shape {tuple(faces.shape)}")
    if faces.dtype not in (torch.int32, torch.int64):
        raise BadInputError(f"rasterize: faces must be int32 or int64, got {faces.dtype}")
    if faces.device != clip.device:
        raise BadInputError(f"rasterize: faces are on {faces.device} but clip is on {clip.device}")
    batch, n_verts = int(clip.shape[0]), int(clip.shape[1])
    if batch == 0:
        raise BadInputError("rasterize: clip has batch size 0")
    if batch * faces.shape[0] >= 2**31:
        raise BadInputError(f"rasterize: batch {batch} x {faces.shape[0]} faces exceeds 2^31; split the batch")
    height, width = parse_resolution(resolution)
    if batch * height * width >= 2**31:
        raise BadInputError(f"rasterize: batch {batch} x {height} x {width} pixels exceeds 2^31; split the batch")
    cull = parse_cull(cull, batch, clip.device, check_values)
    if check_values:
        _check_values(clip, faces, n_verts)
    return RasterInputs(clip.detach().contiguous(), faces.detach().contiguous(), height, width, cull)


def _check_values(clip: torch.Tensor, faces: torch.Tensor, n_verts: int) -> None:
    if faces.numel():
        low, high = int(faces.min()), int(faces.max())
        if high >= n_verts:
            face = int(torch.nonzero((faces >= n_verts).any(dim=1))[0, 0])
            raise BadInputError(f"rasterize: faces index vertex {high} (face {face}) but the mesh has "
                                f"{n_verts} vertices")
        if low < 0:
            face = int(torch.nonzero((faces < 0).any(dim=1))[0, 0])
            raise BadInputError(f"rasterize: faces contain the negative index {low} (face {face})")
    finite = torch.isfinite(clip).all(dim=-1)
    if not bool(finite.all()):
        b, v = (int(i) for i in torch.nonzero(~finite)[0])
        raise BadInputError(f"rasterize: clip has NaN or Inf at batch element {b}, vertex {v}")
