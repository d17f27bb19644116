"""The UV-space face/eye mask: which texels of the head's UV layout hold the trusted dynamic face texture."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def rasterize_uv_mask(uvs: np.ndarray, uv_faces: np.ndarray, face_on: np.ndarray, size: int = 512,
                      gutter: int = 3) -> np.ndarray:
    """(size, size) float32 in {0, 1}: 1 inside the UV triangles of faces with `face_on`, else 0.

    Image row 0 is v = 1 (OBJ v points up). Masked texels are grown by `gutter` pixels into texels that no
    triangle covers, so bilinear lookups near a chart's edge do not pick up the empty background.
    """
    uvs = np.asarray(uvs, dtype=np.float64)
    uv_faces = np.asarray(uv_faces, dtype=np.int64)
    face_on = np.asarray(face_on, dtype=bool)
    on = Image.new("L", (size, size), 0)
    covered = Image.new("L", (size, size), 0)
    draw_on, draw_covered = ImageDraw.Draw(on), ImageDraw.Draw(covered)
    pixels = np.stack([uvs[:, 0] * size - 0.5, (1.0 - uvs[:, 1]) * size - 0.5], axis=1)
    for tri, flag in zip(uv_faces.tolist(), face_on.tolist()):
        polygon = [tuple(pixels[i]) for i in tri]
        draw_covered.polygon(polygon, fill=255, outline=255)
        if flag:
            draw_on.polygon(polygon, fill=255, outline=255)
    mask = np.asarray(on) > 127
    free = np.asarray(covered) <= 127
    if gutter > 0:
        grown = np.asarray(on.filter(ImageFilter.MaxFilter(2 * gutter + 1))) > 127
        mask = mask | (grown & free)
    return mask.astype(np.float32)
