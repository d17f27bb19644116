"""The Diffusion widget's guidance section: the target (the current render or an image file), the mask
(whole picture, rectangle or painted, edited on the canvas), guidance scale, working resolution, gradient path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from imgui_bundle import imgui

from gui_utils.file_browser import FileBrowser
from gui_utils.gl_texture import Texture
from gui_utils.imgui_utils import hint
from next3d.capture.render_args import RenderArgs
from next3d.errors import Next3DError
from viz.diffusion_sampling import GuidanceTarget
from viz.guidance_mask import MASK_LABELS, MASK_MODES, GuidanceMask
from viz.mask_tool import MaskTool

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
GRADIENT_PATHS = ("x_t", "x0")
GRADIENT_LABELS = ("through the denoiser (x_t)", "clean estimate only (x0, cheaper)")
TARGET_PREVIEW_EM = 5.0


class GuidancePanel:
    """Target picture and mask for image guidance; `guidance(view)` packs them for the sampler."""

    def __init__(self, app):
        self.app = app
        self.enabled = False
        self.target_path = ""
        self.target_image: np.ndarray | None = None   # (H, W, 3) uint8
        self.target_view: RenderArgs | None = None    # camera/head of a captured render; None: the current view
        self.target_label = ""
        self.mask = GuidanceMask()
        self.tool = MaskTool(self.mask)
        self.scale = 5.0
        self.resolution = 64
        self.wrt_index = 0
        self.condition = True
        self._preview: Texture | None = None
        self._preview_of: np.ndarray | None = None
        self.browser = FileBrowser("Open target image", IMAGE_SUFFIXES)

    # -- actions ------------------------------------------------------------------------------------------
    def use_current_render(self) -> bool:
        """Take the picture on the canvas (an Image render) as the target, with the view it was rendered from."""
        shown = self.app.image_result
        if shown is None or shown.image is None or shown.args is None:
            self.app.notify("guidance target: nothing rendered yet")
            return False
        if shown.args.render_type != "image":
            self.app.notify(f"guidance target: the canvas shows the '{shown.args.render_type}' render; switch "
                            "Render type to Image to use it")
            return False
        self.target_image, self.target_view = shown.image.copy(), shown.args
        self.target_label = f"current render (yaw {np.degrees(shown.args.yaw):.0f} deg)"
        self.target_path = ""
        return True

    def use_image_file(self, path: str) -> bool:
        """Read an image file as the target (centre-cropped to a square); errors go to the canvas."""
        from next3d.invert.image_input import read_rgb, square_resize

        notes: list[str] = []
        size = self.app.model.img_resolution if self.app.model else 256
        try:
            rgb = square_resize(read_rgb(path, "guidance target"), size, f"guidance target {path}", notes)
        except Next3DError as exc:
            self.app.notify(str(exc))
            return False
        self.target_image, self.target_view = rgb, None
        self.target_path = str(path)
        self.target_label = Path(path).name + (f" ({notes[0].split(': ', 1)[-1]})" if notes else "")
        return True

    def guidance(self, current_view: RenderArgs) -> GuidanceTarget | None:
        """What the sampler needs, or None (with a message) when the target or mask is missing."""
        if self.target_image is None:
            self.app.notify("guidance: pick a target first (the current render or an image file)")
            return None
        if self.mask.is_empty():
            self.app.notify("guidance mask: nothing is selected; drag a rectangle or paint on the canvas")
            return None
        view = self.target_view if self.target_view is not None else current_view
        return GuidanceTarget(self.target_image, self.mask.array(), view, float(self.scale), int(self.resolution),
                              GRADIENT_PATHS[self.wrt_index], bool(self.condition))

    @property
    def shows_mask(self) -> bool:
        return self.enabled and self.mask.mode != "whole"

    # -- drawing ------------------------------------------------------------------------------------------
    def draw(self, conditional_prior: bool) -> None:
        em = imgui.get_font_size()
        _, self.enabled = imgui.checkbox("Guide toward a target picture", self.enabled)
        if not self.enabled:
            self.tool.editing = False
            return
        imgui.indent(em * 0.6)
        if imgui.button("Use current render"):
            self.use_current_render()
        imgui.set_item_tooltip("The picture on the canvas (and its camera) becomes the target")
        imgui.same_line()
        if imgui.button("Image file..."):
            self.browser.open(self.target_path or None)
        chosen = self.browser()
        if chosen is not None:
            self.use_image_file(str(chosen))
        self._draw_target_preview(em)
        imgui.set_next_item_width(em * 10)
        _, mode_index = imgui.combo("Mask", MASK_MODES.index(self.mask.mode), [MASK_LABELS[m] for m in MASK_MODES])
        self.mask.set_mode(MASK_MODES[mode_index])
        if self.mask.mode == "whole":
            self.tool.editing = False
        else:
            _, self.tool.editing = imgui.checkbox("Edit on the canvas", self.tool.editing)
            imgui.set_item_tooltip("Left-drag on the picture edits the mask (the camera keeps right-drag and wheel)")
        if self.mask.mode == "rectangle":
            imgui.set_next_item_width(em * 14)
            changed, rect = imgui.drag_float4("x0 y0 x1 y1", list(self.mask.rect), 0.005, 0.0, 1.0, "%.2f")
            if changed:
                self.mask.set_rect((rect[0], rect[1]), (rect[2], rect[3]))
        elif self.mask.mode == "painted":
            imgui.set_next_item_width(em * 8)
            _, self.tool.brush_radius = imgui.slider_float("Brush", self.tool.brush_radius, 0.01, 0.3, "%.2f")
            imgui.same_line()
            _, self.tool.erase = imgui.checkbox("Erase", self.tool.erase)
            if imgui.button("Clear"):
                self.mask.fill(0.0)
            imgui.same_line()
            if imgui.button("Fill"):
                self.mask.fill(1.0)
            hint(f"{float(self.mask.painted.mean()) * 100:.0f}% of the picture painted")
        imgui.set_next_item_width(em * 10)
        _, self.scale = imgui.slider_float("Guidance scale", self.scale, 0.0, 50.0, "%.1f")
        imgui.set_next_item_width(em * 10)
        _, self.resolution = imgui.slider_int("Working size", self.resolution, 16, 256)
        imgui.set_item_tooltip("Side of the picture the guidance loss compares (pixels)")
        imgui.set_next_item_width(em * 14)
        _, self.wrt_index = imgui.combo("Gradient", self.wrt_index, list(GRADIENT_LABELS))
        if conditional_prior:
            _, self.condition = imgui.checkbox("Also condition the prior on the target", self.condition)
        imgui.unindent(em * 0.6)

    def _draw_target_preview(self, em: float) -> None:
        if self.target_image is None:
            hint("no target yet")
            return
        if self._preview_of is not self.target_image:
            if self._preview is None:
                self._preview = Texture()
            self._preview.upload(self.target_image)
            self._preview_of = self.target_image
        imgui.image(self._preview.ref, (em * TARGET_PREVIEW_EM, em * TARGET_PREVIEW_EM))
        imgui.same_line()
        imgui.text_wrapped(f"target: {self.target_label}")

    def delete(self) -> None:
        self.tool.delete()
        if self._preview is not None:
            self._preview.delete()
            self._preview = None
