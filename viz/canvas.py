"""The canvas: the rendered picture fitted into the right-hand side, drags on it, status, errors and messages.

While a job shows its progress (e.g. an inversion's current render) that picture replaces the render, with a
caption; while a widget's canvas tool is editing (the guidance mask), left drags go to the tool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from imgui_bundle import imgui

from gui_utils.gl_texture import Texture
from next3d.capture.memory_models import MEMORY_PREFIX

ERROR_BOX_RGBA = (150, 28, 28, 235)   # error overlay colour (tests look for it)
BANNER_RGBA = (160, 110, 10, 230)     # "random weights" banner
MEMORY_MODEL_RGBA = (40, 80, 150, 230)  # "in-memory model" label
PREVIEW_CAPTION_RGBA = (120, 200, 255, 255)
MESSAGE_SECONDS = 6.0


def _u32(rgba) -> int:
    r, g, b, a = rgba
    return imgui.color_convert_float4_to_u32((r / 255, g / 255, b / 255, a / 255))


@dataclass(frozen=True)
class CanvasPreview:
    """A picture (H, W, 3) uint8 shown instead of the render while a job works on it, with a caption."""

    image: np.ndarray
    caption: str


class Canvas:
    """Draws the newest picture with status text; left-drag orbits the camera, shift-drag walks the latent,
    the wheel changes the camera radius, double-click resets the camera."""

    def __init__(self, app):
        self.app = app
        self.image_rect = ((0.0, 0.0), (0.0, 0.0))  # screen coordinates of the drawn picture
        self._message: tuple[str, bool, float] | None = None
        self.error_drawn = ""  # the error text drawn this frame ("" when none), for tests and logs
        self.banner_drawn = ""  # the warning banner drawn this frame ("" when none)
        self.preview: CanvasPreview | None = None  # set by a widget each frame while its job shows progress
        self._preview_texture: Texture | None = None
        self._preview_uploaded: np.ndarray | None = None

    def show_message(self, text: str, error: bool = True) -> None:
        self._message = (text, error, time.monotonic() + MESSAGE_SECONDS)

    @property
    def message(self) -> str:
        """The message shown now ('' when none or expired)."""
        if self._message is None or time.monotonic() > self._message[2]:
            return ""
        return self._message[0]

    def framebuffer_rect(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """The picture's rectangle in framebuffer pixels ((x0, y0), (x1, y1))."""
        ratio = self.app.window.pixel_ratio
        (x0, y0), (x1, y1) = self.image_rect
        return (int(round(x0 * ratio)), int(round(y0 * ratio))), (int(round(x1 * ratio)), int(round(y1 * ratio)))

    def __call__(self, pos, size) -> None:
        imgui.set_next_window_pos(pos)
        imgui.set_next_window_size(size)
        flags = (imgui.WindowFlags_.no_decoration | imgui.WindowFlags_.no_move | imgui.WindowFlags_.no_saved_settings
                 | imgui.WindowFlags_.no_bring_to_front_on_focus | imgui.WindowFlags_.no_scroll_with_mouse)
        imgui.push_style_var(imgui.StyleVar_.window_padding, (0, 0))
        imgui.begin("Canvas", None, flags)
        imgui.pop_style_var()
        origin = imgui.get_cursor_screen_pos()
        avail = imgui.get_content_region_avail()
        width, height = max(1.0, avail.x), max(1.0, avail.y)
        draw = imgui.get_window_draw_list()
        self._draw_picture(draw, origin, width, height)
        imgui.set_cursor_screen_pos(origin)
        imgui.invisible_button("canvas", (width, height),
                               imgui.ButtonFlags_.mouse_button_left | imgui.ButtonFlags_.mouse_button_right)
        self._handle_input(width, height)
        self._draw_status(draw, origin, width, height)
        imgui.end()

    def _preview_texture_of(self, preview: CanvasPreview) -> Texture:
        if self._preview_texture is None:
            self._preview_texture = Texture()
        if self._preview_uploaded is not preview.image:
            self._preview_texture.upload(preview.image)
            self._preview_uploaded = preview.image
        return self._preview_texture

    def _draw_picture(self, draw, origin, width: float, height: float) -> None:
        shown = self.app.image_result
        texture = self.app.texture
        if self.preview is not None:
            shown, texture = self.preview, self._preview_texture_of(self.preview)
        if shown is None or texture.size is None:
            self.image_rect = ((origin.x, origin.y), (origin.x, origin.y))
            return
        tex_w, tex_h = texture.size
        scale = min(width / tex_w, height / tex_h)
        if scale >= 1:
            scale = float(int(scale))  # integer zoom keeps pixels sharp
        w, h = tex_w * scale, tex_h * scale
        x0, y0 = origin.x + (width - w) / 2, origin.y + (height - h) / 2
        self.image_rect = ((x0, y0), (x0 + w, y0 + h))
        texture.set_smooth(scale < 1)
        draw.add_image(texture.ref, (x0, y0), (x0 + w, y0 + h))
        if self.app.canvas_tool is not None and self.preview is None:
            self.app.canvas_tool.draw_overlay(draw, self.image_rect)
        if self.app.error and self.preview is None:  # the last good picture stays, dimmed, under the error
            draw.add_rect_filled((x0, y0), (x0 + w, y0 + h), _u32((0, 0, 0, 140)))

    def picture_point(self, x: float, y: float) -> tuple[float, float]:
        """Screen position -> picture fractions (0, 0) top-left .. (1, 1) bottom-right (may lie outside)."""
        (x0, y0), (x1, y1) = self.image_rect
        return (x - x0) / max(1e-6, x1 - x0), (y - y0) / max(1e-6, y1 - y0)

    def _handle_input(self, width: float, height: float) -> None:
        io = imgui.get_io()
        size = min(width, height)
        tool = self.app.canvas_tool
        if tool is not None and tool.editing and imgui.is_item_active() and imgui.is_mouse_down(
                imgui.MouseButton_.left):
            tool.drag(self.picture_point(io.mouse_pos.x, io.mouse_pos.y), started=imgui.is_item_activated())
            return
        if tool is not None and imgui.is_item_deactivated():
            tool.release()
        if imgui.is_item_active():
            dx, dy = io.mouse_delta.x / size, io.mouse_delta.y / size
            if (dx or dy) and imgui.is_mouse_down(imgui.MouseButton_.left):
                if io.key_shift:
                    self.app.latent.drag(dx, dy)
                else:
                    self.app.camera.drag(dx, dy)
            elif (dx or dy) and imgui.is_mouse_down(imgui.MouseButton_.right):
                self.app.camera.roll_drag(dx)
        if imgui.is_item_hovered():
            if io.mouse_wheel:
                self.app.camera.zoom(io.mouse_wheel)
            if imgui.is_mouse_double_clicked(imgui.MouseButton_.left):
                self.app.camera.reset()

    def _draw_status(self, draw, origin, width: float, height: float) -> None:
        app = self.app
        em = imgui.get_font_size()
        pad = em * 0.5
        x, y = origin.x + pad, origin.y + pad
        model = app.model
        self.banner_drawn = ""
        banner = None
        if model is not None and model.random_weights:
            text = f"RANDOM WEIGHTS: untrained {model.preset} model, no real face expected. Load a trained checkpoint."
            banner = (text, BANNER_RGBA)
        elif model is not None and model.checkpoint.startswith(MEMORY_PREFIX):
            banner = (f"IN MEMORY, NOT SAVED: {model.description} (save it in the Invert panel)", MEMORY_MODEL_RGBA)
        if banner is not None:
            text, rgba = banner
            self.banner_drawn = text
            size = imgui.calc_text_size(text)
            draw.add_rect_filled((x - pad / 2, y - pad / 4), (x + size.x + pad / 2, y + size.y + pad / 4),
                                 _u32(rgba), em * 0.2)
            draw.add_text((x, y), _u32((255, 255, 255, 255)), text)
            y += size.y + pad
        if self.preview is not None:
            draw.add_text((x, y), _u32(PREVIEW_CAPTION_RGBA), self.preview.caption)
            y += em * 1.2
        lines = []
        if app.result is not None and not app.error:
            r = app.result
            ran = ", ".join(r.stages_ran) if r.stages_ran else "cached"
            lines.append(f"{r.total_ms:.0f} ms render ({ran})")
        if app.renderer.pending:
            lines.append("rendering..." if app.result is not None else f"loading {app.args.checkpoint} ...")
        for line in lines:
            draw.add_text((x, y), _u32((230, 230, 230, 220)), line)
            y += em * 1.2
        self.error_drawn = ""
        if app.error:
            self.error_drawn = app.error
            self._text_box(draw, origin, width, height, "Render error: " + app.error, ERROR_BOX_RGBA)
        if self._message is not None:
            text, is_error, until = self._message
            if time.monotonic() > until:
                self._message = None
            else:
                color = ERROR_BOX_RGBA if is_error else (30, 90, 40, 235)
                self._text_box(draw, origin, width, height, text, color, bottom=True)

    def delete(self) -> None:
        if self._preview_texture is not None:
            self._preview_texture.delete()
            self._preview_texture = None

    @staticmethod
    def _text_box(draw, origin, width, height, text: str, rgba, bottom: bool = False) -> None:
        em = imgui.get_font_size()
        wrap = min(width * 0.85, em * 40)
        size = imgui.calc_text_size(text, False, wrap)
        x0 = origin.x + (width - size.x) / 2
        y0 = origin.y + (height - size.y - 3 * em if bottom else (height - size.y) / 2)
        draw.add_rect_filled((x0 - em, y0 - em * 0.7), (x0 + size.x + em, y0 + size.y + em * 0.7), _u32(rgba),
                             em * 0.3)
        draw.add_text(imgui.get_font(), em, (x0, y0), _u32((255, 255, 255, 255)), text, wrap)
