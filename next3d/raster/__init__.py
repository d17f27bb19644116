"""Forward-only mesh rasterization (CUDA kernel + PyTorch reference), UV interpolation, texture sampling.

    views = plane_views(world_vertices)                       # the 4 orthographic tri-plane views
    frags = rasterize(views.clip, faces, 256, cull=views.cull)
    uv = interpolate(uvs, frags, attr_faces=uv_faces)         # (B*4, H, W, 2)
    feats = sample_texture(texture, uv, frags.mask)           # (B*4, C, H, W), gradients to texture
"""

from next3d.raster.fill import fill_polygon
from next3d.raster.fragments import Fragments
from next3d.raster.interpolate import interpolate
from next3d.raster.rasterize import backend_available, rasterize
from next3d.raster.texture import sample_texture
from next3d.raster.views import PLANE_OF_VIEW, PLANE_VIEW_NAMES, ViewBatch, camera_clip, plane_views

__all__ = ["PLANE_OF_VIEW", "PLANE_VIEW_NAMES", "Fragments", "ViewBatch", "backend_available", "camera_clip",
           "fill_polygon", "interpolate", "plane_views", "rasterize", "sample_texture"]
