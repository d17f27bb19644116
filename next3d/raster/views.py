"""Clip-space vertices for the views the project rasterizes: tri-plane views and EG3D/OpenCV cameras.

Each helper returns a ViewBatch: clip coords plus the per-view cull sign that drops back faces of meshes
wound counter-clockwise seen from outside (OBJ/FLAME convention), whatever the view's handedness.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from next3d.errors import BadInputError
from next3d.raster.inputs import describe

# The 4 orthographic tri-plane views, in this order per batch element (clip row b * 4 + view):
PLANE_VIEW_NAMES = ("front", "top", "side_from_+x", "side_from_-x")
PLANE_OF_VIEW = (0, 1, 2, 2)  # plane each view lands on (plane 2 = sum of the two side views)
# (world axis along image columns, along rows, axis of the viewing direction, its sign). Columns/rows
# follow the plane axes (x, y), (x, z), (z, y) of docs/conventions.md; e.g. front looks along -z.
_PLANE_VIEW_AXES = ((0, 1, 2, -1), (0, 2, 1, -1), (2, 1, 0, -1), (2, 1, 0, 1))


@dataclass(frozen=True)
class ViewBatch:
    """clip (B*V, N, 4) float32 for `rasterize`, cull (B*V,) int32 signs for its `cull=`, V views per mesh."""

    clip: torch.Tensor
    cull: torch.Tensor
    num_views: int


def plane_views(world_vertices: torch.Tensor, box_warp: float = 1.0) -> ViewBatch:
    """The 4 tri-plane views (PLANE_VIEW_NAMES) of world meshes (B, N, 3), pixel-aligned with the planes.

    NDC x, y = 2 * (world coords along columns, rows) / box_warp, so pixel (r, c) of a view is the texel
    grid_sample reads on its plane; NDC z = (viewing direction . p) / box_warp (nearer is smaller), so
    faces within +-box_warp along the view axis are kept. w = 1 (orthographic).
    """
    _check_vertices(world_vertices, "plane_views")
    if not box_warp > 0:
        raise BadInputError(f"plane_views: box_warp must be positive, got {box_warp}")
    batch, n_verts = world_vertices.shape[:2]
    scaled = world_vertices * (2.0 / box_warp)  # the same op as next3d.render.triplane.plane_coordinates
    ones = torch.ones_like(world_vertices[..., 0])
    views = []
    for col, row, axis, sign in _PLANE_VIEW_AXES:
        depth = world_vertices[..., axis] * (sign / box_warp)
        views.append(torch.stack([scaled[..., col], scaled[..., row], depth, ones], dim=-1))
    clip = torch.stack(views, dim=1).reshape(batch * len(views), n_verts, 4)
    cull = torch.empty(batch, len(views), dtype=torch.int32, device=world_vertices.device)
    for v, axes in enumerate(_PLANE_VIEW_AXES):
        cull[:, v] = _handedness(*axes)  # device fills: no host-to-device copy, no sync
    return ViewBatch(clip.contiguous(), cull.reshape(-1), len(views))


def _handedness(col: int, row: int, axis: int, sign: int) -> int:
    """Sign of det of the world -> NDC map; it equals the NDC-area sign of back faces, the one to cull."""
    even = (col, row, axis) in ((0, 1, 2), (1, 2, 0), (2, 0, 1))
    return sign if even else -sign


def camera_clip(world_vertices: torch.Tensor, cam2world: torch.Tensor, intrinsics: torch.Tensor, *,
                near: float = 0.1, far: float = 100.0) -> ViewBatch:
    """Perspective views of world meshes (B or 1, N, 3) from EG3D cameras (B, 4, 4) + normalized K (B or 1, 3, 3).

    cam2world must be rigid (rotation + translation), as EG3D labels are. A point projecting to normalized
    image coords (u, v) (next3d.render.camera.project) lands at pixel column u * W, row v * H at any
    resolution. Camera depth near -> NDC z -1, far -> +1 (OpenGL style); faces with a vertex outside
    [near, far] are dropped by `rasterize`. No device sync.
    """
    _check_vertices(world_vertices, "camera_clip")
    if not isinstance(cam2world, torch.Tensor) or cam2world.ndim != 3 or cam2world.shape[1:] != (4, 4):
        raise BadInputError(f"camera_clip: cam2world must be (B, 4, 4), got {tuple(cam2world.shape)}")
    if intrinsics.ndim == 2:
        intrinsics = intrinsics[None]
    if intrinsics.ndim != 3 or intrinsics.shape[1:] != (3, 3) or intrinsics.shape[0] not in (1, cam2world.shape[0]):
        raise BadInputError(f"camera_clip: intrinsics must be (3, 3) or (B, 3, 3), got {tuple(intrinsics.shape)}")
    if world_vertices.shape[0] not in (1, cam2world.shape[0]):
        raise BadInputError(f"camera_clip: {world_vertices.shape[0]} meshes for {cam2world.shape[0]} cameras; "
                            "give one mesh per camera or a single mesh")
    if not 0 < near < far:
        raise BadInputError(f"camera_clip: need 0 < near < far, got near={near}, far={far}")
    cam2world = cam2world.to(world_vertices)
    k = intrinsics.to(world_vertices).expand(cam2world.shape[0], 3, 3)
    rotation, origin = cam2world[:, :3, :3], cam2world[:, None, :3, 3]
    cam = (world_vertices - origin) @ rotation  # rigid inverse: R^T (p - t), as row vectors
    x, y, z = cam.unbind(-1)
    fx, skew, cx = k[:, None, 0, 0], k[:, None, 0, 1], k[:, None, 0, 2]
    fy, cy = k[:, None, 1, 1], k[:, None, 1, 2]
    # NDC x = 2u - 1 with u = (fx x + skew y + cx z) / z; likewise y.
    clip_x = 2.0 * (fx * x + skew * y + cx * z) - z
    clip_y = 2.0 * (fy * y + cy * z) - z
    clip_z = z * ((far + near) / (far - near)) - 2.0 * far * near / (far - near)
    clip = torch.stack([clip_x, clip_y, clip_z, z], dim=-1)
    # Back faces have the NDC-area sign of det(world -> NDC) = det(R) * sign(fx fy) (depth grows with z).
    det_rotation = (rotation[:, :, 0] * torch.linalg.cross(rotation[:, :, 1], rotation[:, :, 2], dim=-1)).sum(-1)
    cull = torch.sign(det_rotation * k[:, 0, 0] * k[:, 1, 1]).to(torch.int32)
    return ViewBatch(clip.contiguous(), cull, 1)


def _check_vertices(vertices, where: str) -> None:
    if not isinstance(vertices, torch.Tensor) or vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise BadInputError(f"{where}: world vertices must be a (B, N, 3) tensor, got "
                            f"{describe(vertices)}")
    if vertices.dtype != torch.float32:
        raise BadInputError(f"{where}: world vertices must be float32, got {vertices.dtype}")
