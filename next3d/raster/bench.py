"""Timing the tri-plane rasterization (`python -m next3d bench raster`): CUDA kernel vs PyTorch reference."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch

from next3d.raster.fill import fill_polygon
from next3d.raster.interpolate import interpolate
from next3d.raster.rasterize import backend_available, rasterize
from next3d.raster.texture import sample_texture
from next3d.raster.views import PLANE_VIEW_NAMES, plane_views
from next3d.utils.timing import median_ms

TEXTURE_CHANNELS = 32  # Next3D's neural texture: 256 x 256 x 32


@dataclass(frozen=True)
class PlaneScene:
    """What the tri-plane stage rasterizes: world meshes (B, N, 3) sharing faces/UVs, inner-lip contours."""

    name: str
    world: torch.Tensor      # (B, N, 3) tri-plane world coordinates
    faces: torch.Tensor      # (F, 3) int32
    uvs: torch.Tensor        # (T, 2) OBJ convention
    uv_faces: torch.Tensor   # (F, 3)
    uv_mask: torch.Tensor    # (1, 1, Hm, Wm) face/eye mask in UV space, row 0 = v = 1
    lips: torch.Tensor       # (B, P, 2) inner-lip contour in the front view's NDC


@dataclass(frozen=True)
class BenchRow:
    """One line of the table: median milliseconds per call."""

    backend: str
    batch: int
    resolution: int
    faces: int
    raster_ms: float
    planes_ms: float


def head_scene(batch: int, device: torch.device, box_warp: float = 1.0) -> PlaneScene:
    """The default head, neutral, replicated `batch` times."""
    from next3d.head import HeadParams, load_default_head

    head = load_default_head()
    out = head(HeadParams.neutral(head, batch))
    world = head.to_world(out.vertices).to(device)
    lips = head.to_world(out.landmarks[:, head.lip_inner])[..., :2].to(device) * (2.0 / box_warp)
    return PlaneScene("default head", world.contiguous(), head.faces.to(device, torch.int32),
                      head.uvs.to(device), head.uv_faces.to(device), head.uv_mask[None, None].to(device), lips)


def sphere_scene(batch: int, device: torch.device) -> PlaneScene:
    """An icosphere of 20480 faces filling most of the box (for when no head asset is at hand)."""
    from next3d.raster.testing import icosphere

    v, f = icosphere(5, 0.45)
    uvs = v[:, :2] / 0.9 + 0.5
    angles = torch.linspace(0, 6.283, 13)[:-1]
    lips = torch.stack([0.3 * torch.cos(angles), 0.1 * torch.sin(angles) - 0.4], -1)
    return PlaneScene("icosphere", v[None].repeat(batch, 1, 1).to(device), f.to(device, torch.int32), uvs.to(device),
                      f.to(device), torch.ones(1, 1, 64, 64, device=device), lips[None].repeat(batch, 1, 1).to(device))


def plane_features(scene: PlaneScene, texture: torch.Tensor, resolution: int, backend: str):
    """The full plane pipeline: raster, UVs, texture features and alpha (UV mask x visibility, mouth filled)."""
    views = plane_views(scene.world)
    frags = rasterize(views.clip, scene.faces, resolution, cull=views.cull, backend=backend, check=False)
    uv = interpolate(scene.uvs, frags, scene.uv_faces, check=False)
    features = sample_texture(texture, uv, frags.mask)
    alpha = sample_texture(scene.uv_mask.expand(texture.shape[0], -1, -1, -1), uv, frags.mask)
    alpha = alpha.reshape(-1, len(PLANE_VIEW_NAMES), 1, resolution, resolution)
    mouth = fill_polygon(scene.lips, resolution)[:, None]  # front view (view 0) only
    alpha[:, 0] = torch.maximum(alpha[:, 0], mouth.to(alpha.dtype))
    return features, alpha


def bench_raster(device: torch.device, resolution: int = 256, batches=(1, 8), repeat: int | None = None,
                 mesh: str = "head") -> tuple[str, list[BenchRow]]:
    """Time the 4 plane views per mesh for every batch size and available backend; (scene name, rows)."""
    backends = ["cuda", "reference"] if device.type == "cuda" and backend_available("cuda") else ["reference"]
    rows, name = [], ""
    for batch in batches:
        scene = head_scene(batch, device) if mesh == "head" else sphere_scene(batch, device)
        name = scene.name
        texture = torch.randn(batch, TEXTURE_CHANNELS, 256, 256, device=device)
        views = plane_views(scene.world)
        for backend in backends:
            n = repeat or (200 if backend == "cuda" else 20 if device.type == "cuda" else 5)
            warmup = max(2, n // 10)
            raster = partial(rasterize, views.clip, scene.faces, resolution, cull=views.cull, backend=backend,
                             check=False)
            planes = partial(plane_features, scene, texture, resolution, backend)
            raster_ms = median_ms(raster, device, n, warmup)
            with torch.no_grad():
                planes_ms = median_ms(planes, device, n, warmup)
            rows.append(BenchRow(backend, batch, resolution, int(scene.faces.shape[0]), raster_ms, planes_ms))
    return name, rows


def format_table(name: str, device: torch.device, rows: list[BenchRow]) -> str:
    """A plain-text table of the rows."""
    head = (f"rasterize: 4 orthographic plane views of the {name} per batch element, on {device}\n"
            f"{'backend':<10} {'batch':>5} {'res':>5} {'faces':>6} {'raster ms':>10} {'planes ms':>10}")
    lines = [f"{r.backend:<10} {r.batch:>5} {r.resolution:>5} {r.faces:>6} {r.raster_ms:>10.3f} {r.planes_ms:>10.3f}"
             for r in rows]
    note = ("raster = rasterize(check=False); planes = raster + UV interpolation + 32-channel texture sampling + "
            "alpha (UV mask, mouth fill); median per call")
    return "\n".join([head, *lines, note])
