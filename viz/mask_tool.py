"""Editing the guidance mask on the canvas: drag a rectangle or paint with a brush, and the mask's overlay.

The canvas hands left-button drags on the picture to `drag` while `editing` is on (the camera keeps its
right-drag and wheel); the overlay dims what the mask ignores.
"""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui

from gui_utils.gl_texture import Texture
from viz.guidance_mask import GuidanceMask

IGNORED_RGBA = (0, 0, 0, 150)        # overlay over pixels the guidance ignores
OUTLINE_RGBA = (90, 230, 120, 255)   # rectangle outline


class MaskTool:
    """Canvas tool for a GuidanceMask: `editing` captures left drags; `brush_radius` is a picture fraction."""

    def __init__(self, mask: GuidanceMask):
        self.mask = mask
        self.editing = False
        self.erase = False
        self.brush_radius = 0.06
        self._anchor: tuple[float, float] | None = None   # where the current drag started
        self._last: tuple[float, float] | None = None     # previous brush position in this drag
        self._texture: Texture | None = None
        self._uploaded_version = -1

    def drag(self, point: tuple[float, float], started: bool) -> None:
        """One frame of a left drag at `point` (picture fractions); `started` on the first frame."""
        if started or self._anchor is None:
            self._anchor, self._last = point, point
        if self.mask.mode == "rectangle":
            self.mask.set_rect(self._anchor, point)
        elif self.mask.mode == "painted":
            self.mask.paint(self._last, point, self.brush_radius, self.erase)
        self._last = point

    def release(self) -> None:
        self._anchor = self._last = None

    def draw_overlay(self, draw, rect) -> None:
        """Dim the ignored part of the picture drawn at screen rectangle `rect` ((x0, y0), (x1, y1))."""
        mask = self.mask.array()
        (x0, y0), (x1, y1) = rect
        if mask is None or x1 <= x0 or y1 <= y0:
            return
        if self._texture is None:
            self._texture = Texture(smooth=False)
        if self._uploaded_version != self.mask.version:
            rgba = np.zeros(mask.shape + (4,), np.uint8)
            rgba[..., :3] = IGNORED_RGBA[:3]
            rgba[..., 3] = np.round((1.0 - mask) * IGNORED_RGBA[3]).astype(np.uint8)
            self._texture.upload(rgba)
            self._uploaded_version = self.mask.version
        draw.add_image(self._texture.ref, (x0, y0), (x1, y1))
        if self.mask.mode == "rectangle":
            rx0, ry0, rx1, ry1 = self.mask.rect
            w, h = x1 - x0, y1 - y0
            color = imgui.color_convert_float4_to_u32(tuple(c / 255 for c in OUTLINE_RGBA))
            draw.add_rect((x0 + rx0 * w, y0 + ry0 * h), (x0 + rx1 * w, y0 + ry1 * h), color, 0.0, 2.0)

    def delete(self) -> None:
        if self._texture is not None:
            self._texture.delete()
            self._texture = None
