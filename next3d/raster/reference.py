"""The pure-PyTorch rasterizer (CPU and GPU): the reference the CUDA kernel must match bit for bit.

Coverage rule (identical in csrc/rasterize.cu): a pixel is covered by a face when its centre lies inside
or on the face's edges (inclusive edge test on float32 edge functions), the face is not dropped (below) and
its centre is inside the face's pixel bounding box. Among covering faces the smallest NDC depth wins, exact
depth ties go to the lowest face id: both backends pack (depth, face id) into one int64 key and take the
minimum. Edge functions are evaluated from a canonical vertex order, so a shared edge gives exactly
opposite values on its two faces (no gaps, no cracks). Every float op below is one torch elementwise
op (one IEEE rounding, no FMA), in the same order as the kernel; never divide by a Python scalar here
(torch turns that into a multiplication by the reciprocal).
Faces are dropped when any vertex has w <= 0 or NDC z outside [-1, 1], when a screen coordinate or the
area is not finite, when the area is exactly 0, or when culled by the sign of their NDC area.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from next3d.raster.fragments import Fragments
from next3d.raster.inputs import RasterInputs

EMPTY_KEY = torch.iinfo(torch.int64).max
TILE = 32  # large faces are split into TILE x TILE pixel tiles
MAX_CANDIDATES = 1 << 20  # (tile, pixel) pairs evaluated per chunk: bounds the reference's memory


# Columns of ScreenFaces.params: per edge k (opposite vertex k) its canonical origin (ox, oy), direction
# (dx, dy) and sign (+-1: value(p) = sign * (dx * (p.y - oy) - dy * (p.x - ox))); twice the signed screen
# area; per vertex NDC z and clip w.
OX, OY, DX, DY, SIGN, AREA, Z, W = 0, 3, 6, 9, 12, 15, 16, 19
N_PARAMS = 22


@dataclass(frozen=True)
class ScreenFaces:
    """Every (view, face) pair, flattened to I = B*F rows (row = view * F + face), in pixel units.

    x, y: (I, 3) screen position of the vertices (x = column + 0.5 at a pixel centre, y likewise rows).
    params: (I, N_PARAMS) what the per-pixel tests need, packed so one gather fetches it (columns above).
    valid: (I,) faces that survive clipping, degeneracy and culling.
    """

    x: torch.Tensor
    y: torch.Tensor
    params: torch.Tensor
    valid: torch.Tensor


def screen_faces(inputs: RasterInputs) -> ScreenFaces:
    """Project every face of every view to the screen and decide which ones are rasterized."""
    clip, faces = inputs.clip, inputs.faces
    batch, n_faces = clip.shape[0], faces.shape[0]
    corners = clip[:, faces.long()].reshape(batch * n_faces, 3, 4)
    cx, cy, cz, cw = corners.unbind(-1)
    x = (cx / cw + 1.0) * (0.5 * inputs.width)
    y = (cy / cw + 1.0) * (0.5 * inputs.height)
    z = cz / cw
    x0, x1, x2 = x.unbind(-1)
    y0, y1, y2 = y.unbind(-1)
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)

    # Edge k runs from vertex a = (k+1)%3 to b = (k+2)%3; canonical origin = the lexicographically smaller end.
    a, b = [1, 2, 0], [2, 0, 1]
    ax, ay, bx, by = x[:, a], y[:, a], x[:, b], y[:, b]
    flip = (bx < ax) | ((bx == ax) & (by < ay))
    ox, oy = torch.where(flip, bx, ax), torch.where(flip, by, ay)
    dx = torch.where(flip, ax - bx, bx - ax)
    dy = torch.where(flip, ay - by, by - ay)
    sign = 1.0 - 2.0 * flip.to(torch.float32)  # multiplying by -1 negates exactly, like the kernel's -v

    cull = inputs.cull.repeat_interleave(n_faces)
    culled = ((cull > 0) & (area > 0)) | ((cull < 0) & (area < 0))
    valid = ((cw > 0).all(-1) & (z >= -1.0).all(-1) & (z <= 1.0).all(-1) & torch.isfinite(x).all(-1)
             & torch.isfinite(y).all(-1) & torch.isfinite(area) & (area != 0) & ~culled)
    params = torch.cat([ox, oy, dx, dy, sign, area[:, None], z, cw], dim=1)
    return ScreenFaces(x, y, params, valid)


def edge_value(params: torch.Tensor, k: int, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Edge function k of faces with gathered `params` (..., N_PARAMS), broadcast with screen points px, py."""
    value = params[..., DX + k] * (py - params[..., OY + k]) - params[..., DY + k] * (px - params[..., OX + k])
    return value * params[..., SIGN + k]


def screen_barycentrics(params: torch.Tensor, px, py) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Screen-space barycentrics [b0, b1, b2] and the inclusive inside test of faces `params` at (px, py)."""
    e = [edge_value(params, k, px, py) for k in range(3)]
    area = params[..., AREA]
    inside = torch.where(area > 0, (e[0] >= 0) & (e[1] >= 0) & (e[2] >= 0), (e[0] <= 0) & (e[1] <= 0) & (e[2] <= 0))
    return [ek / area for ek in e], inside


def interpolated_depth(params: torch.Tensor, bary: list[torch.Tensor]) -> torch.Tensor:
    """NDC depth at screen barycentrics (z/w is affine in screen space): (b0 z0 + b1 z1) + b2 z2."""
    return (bary[0] * params[..., Z] + bary[1] * params[..., Z + 1]) + bary[2] * params[..., Z + 2]


def depth_key(depth: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
    """int64 keys ordered by (depth, face id): float bits made monotonic as int32, times 2^32, plus the id."""
    bits = depth.contiguous().view(torch.int32)
    ordered = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    return ordered.to(torch.int64) * (1 << 32) + face.to(torch.int64)


def rasterize_reference(inputs: RasterInputs) -> Fragments:
    """Rasterize with torch ops only; any device. Same results as the CUDA kernel (face ids bit-equal)."""
    batch, height, width = inputs.clip.shape[0], inputs.height, inputs.width
    n_faces = inputs.faces.shape[0]
    device = inputs.clip.device
    keys = torch.full((batch * height * width,), EMPTY_KEY, dtype=torch.int64, device=device)
    if n_faces:
        sf = screen_faces(inputs)
        _scatter_coverage(sf, keys, n_faces, height, width)
        return _resolve(sf, keys, inputs, n_faces)
    return Fragments(torch.full((batch, height, width), -1, dtype=torch.int32, device=device),
                     torch.zeros(batch, height, width, 3, device=device),
                     torch.full((batch, height, width), float("inf"), device=device), inputs.faces, "reference")


def _pixel_bounds(sf: ScreenFaces, rows: torch.Tensor, width: int, height: int):
    """Inclusive pixel ranges [c0, c1] x [r0, r1] whose centres lie in the faces' bounding boxes."""
    x, y = sf.x[rows], sf.y[rows]
    c0 = torch.ceil(x.amin(-1) - 0.5).clamp(min=0.0)
    c1 = torch.floor(x.amax(-1) - 0.5).clamp(max=width - 1.0)
    r0 = torch.ceil(y.amin(-1) - 0.5).clamp(min=0.0)
    r1 = torch.floor(y.amax(-1) - 0.5).clamp(max=height - 1.0)
    return c0, c1, r0, r1


def _scatter_coverage(sf: ScreenFaces, keys: torch.Tensor, n_faces: int, height: int, width: int) -> None:
    """Write min(depth key) of every covering face into keys (B*H*W,), tile by tile, in bounded chunks."""
    rows = torch.nonzero(sf.valid).squeeze(1)
    c0, c1, r0, r1 = _pixel_bounds(sf, rows, width, height)
    nonempty = (c0 <= c1) & (r0 <= r1)
    rows, c0, c1, r0, r1 = (t[nonempty] for t in (rows, c0, c1, r0, r1))
    c0, c1, r0, r1 = (t.to(torch.int64) for t in (c0, c1, r0, r1))
    if rows.numel() == 0:
        return
    # Split each face's box into TILE x TILE tiles; group tiles by power-of-two size.
    ntx, nty = (c1 - c0) // TILE + 1, (r1 - r0) // TILE + 1
    per_face = ntx * nty
    owner = torch.repeat_interleave(torch.arange(rows.numel(), device=rows.device), per_face)
    k = torch.arange(owner.numel(), device=rows.device) - (torch.cumsum(per_face, 0) - per_face)[owner]
    tx, ty = k % ntx[owner], k // ntx[owner]
    tc0, tr0 = c0[owner] + tx * TILE, r0[owner] + ty * TILE
    tc1, tr1 = torch.minimum(tc0 + TILE - 1, c1[owner]), torch.minimum(tr0 + TILE - 1, r1[owner])
    log_w, log_h = _ceil_log2(tc1 - tc0 + 1), _ceil_log2(tr1 - tr0 + 1)
    n_logs = TILE.bit_length()
    bucket = log_w * n_logs + log_h
    order = torch.argsort(bucket, stable=True)
    counts = torch.bincount(bucket, minlength=n_logs * n_logs).tolist()
    start = 0
    for b, count in enumerate(counts):
        tile_w, tile_h = 1 << (b // n_logs), 1 << (b % n_logs)
        chunk = max(1, MAX_CANDIDATES // (tile_w * tile_h))
        for s in range(start, start + count, chunk):
            sel = order[s:min(s + chunk, start + count)]
            _scatter_tiles(sf, keys, rows[owner[sel]], tc0[sel], tc1[sel], tr0[sel], tr1[sel], tile_w, tile_h,
                           n_faces, height, width)
        start += count


def _ceil_log2(n: torch.Tensor) -> torch.Tensor:
    """ceil(log2(n)) for 1 <= n <= TILE, exactly."""
    return sum((n > (1 << k)).to(torch.int64) for k in range(TILE.bit_length() - 1))


def _scatter_tiles(sf, keys, rows, c0, c1, r0, r1, tile_w, tile_h, n_faces, height, width) -> None:
    device = keys.device
    cols = c0[:, None, None] + torch.arange(tile_w, device=device)[None, None, :]  # (n, 1, tw)
    prow = r0[:, None, None] + torch.arange(tile_h, device=device)[None, :, None]  # (n, th, 1)
    in_tile = (cols <= c1[:, None, None]) & (prow <= r1[:, None, None])
    px, py = cols.to(torch.float32) + 0.5, prow.to(torch.float32) + 0.5
    params = sf.params[rows][:, None, None]  # (n, 1, 1, N_PARAMS)
    bary, inside = screen_barycentrics(params, px, py)
    covered = inside & in_tile
    depth = interpolated_depth(params, bary)
    view, face = torch.div(rows, n_faces, rounding_mode="floor"), rows % n_faces
    pixel = (view[:, None, None] * height + prow) * width + cols
    face = face[:, None, None].expand_as(covered)
    keys.scatter_reduce_(0, pixel.expand_as(covered)[covered], depth_key(depth[covered], face[covered]), "amin")


def _resolve(sf: ScreenFaces, keys: torch.Tensor, inputs: RasterInputs, n_faces: int) -> Fragments:
    """Turn the winning keys into face ids, barycentrics (perspective-correct) and depths per pixel."""
    batch, height, width = inputs.clip.shape[0], inputs.height, inputs.width
    device = keys.device
    pixel = torch.nonzero(keys != EMPTY_KEY).squeeze(1)  # covered pixels only
    face = keys[pixel] & 0xFFFFFFFF
    view, rest = torch.div(pixel, height * width, rounding_mode="floor"), pixel % (height * width)
    py = torch.div(rest, width, rounding_mode="floor").to(torch.float32) + 0.5
    px = (rest % width).to(torch.float32) + 0.5
    params = sf.params[view * n_faces + face]
    bary, _ = screen_barycentrics(params, px, py)
    # Perspective correction: divide by each vertex's w and renormalize (exact no-op in exact math for w = 1).
    q = [bary[k] / params[:, W + k] for k in range(3)]
    total = (q[0] + q[1]) + q[2]
    face_id = torch.full((batch * height * width,), -1, dtype=torch.int32, device=device)
    persp = torch.zeros(batch * height * width, 3, device=device)
    depth = torch.full((batch * height * width,), float("inf"), device=device)
    face_id[pixel] = face.to(torch.int32)
    persp[pixel] = torch.stack([qk / total for qk in q], dim=-1)
    depth[pixel] = interpolated_depth(params, bary)
    shape = (batch, height, width)
    return Fragments(face_id.reshape(shape), persp.reshape(*shape, 3), depth.reshape(shape), inputs.faces,
                     "reference")
