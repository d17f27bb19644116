"""Render type: final image, raw (neural) image, depth, alpha, neural texture, the three planes; mesh and
landmark overlays; neural rendering resolution and depth-sample multipliers."""

from __future__ import annotations

from imgui_bundle import imgui

from next3d.capture.render_args import RENDER_TYPES
from viz.app_state import restore_widget_values, widget_values

LABELS = {"image": "Image", "raw": "Raw (neural)", "depth": "Depth", "alpha": "Alpha",
          "texture": "Neural texture", "planes": "Tri-planes (xy | xz | zy)"}
NEURAL_RESOLUTIONS = (None, 32, 64, 128, 256)
_PERSIST = ("type_index", "show_mesh", "show_landmarks", "neural_res_index", "depth_mult", "depth_importance_mult")


class RenderTypeWidget:
    title = "Render type"
    default_open = False

    def __init__(self, app):
        self.app = app
        self.type_index = 0
        self.show_mesh = False
        self.show_landmarks = False
        self.neural_res_index = 0
        self.depth_mult = 1.0
        self.depth_importance_mult = 1.0

    @property
    def render_type(self) -> str:
        return RENDER_TYPES[self.type_index]

    def set_render_type(self, name: str) -> None:
        self.type_index = RENDER_TYPES.index(name)

    def __call__(self, show: bool) -> None:
        if show:
            self._draw()
        self.app.update_args(render_type=self.render_type, show_mesh=self.show_mesh,
                             show_landmarks=self.show_landmarks,
                             neural_res=NEURAL_RESOLUTIONS[self.neural_res_index],
                             depth_mult=self.depth_mult, depth_importance_mult=self.depth_importance_mult)

    def _draw(self) -> None:
        em = imgui.get_font_size()
        for i, name in enumerate(RENDER_TYPES):
            if imgui.radio_button(LABELS[name], self.type_index == i):
                self.type_index = i
        _, self.show_mesh = imgui.checkbox("Mesh overlay", self.show_mesh)
        imgui.same_line()
        _, self.show_landmarks = imgui.checkbox("Landmarks", self.show_landmarks)
        default = self.app.model.neural_res if self.app.model else 0
        labels = [f"default ({default})" if r is None else str(r) for r in NEURAL_RESOLUTIONS]
        imgui.set_next_item_width(em * 9)
        _, self.neural_res_index = imgui.combo("Neural resolution", self.neural_res_index, labels)
        imgui.set_next_item_width(em * 9)
        _, self.depth_mult = imgui.slider_float("Depth samples x", self.depth_mult, 0.25, 4.0, "%.2f")
        imgui.set_next_item_width(em * 9)
        _, self.depth_importance_mult = imgui.slider_float("Importance x", self.depth_importance_mult, 0.0, 4.0,
                                                           "%.2f")

    def persisted(self) -> dict:
        return widget_values(self, _PERSIST)

    def restore(self, saved: dict) -> None:
        restore_widget_values(self, _PERSIST, saved)
        self.type_index = min(max(int(self.type_index), 0), len(RENDER_TYPES) - 1)
        self.neural_res_index = min(max(int(self.neural_res_index), 0), len(NEURAL_RESOLUTIONS) - 1)
        self.depth_mult = min(max(self.depth_mult, 0.25), 4.0)
        self.depth_importance_mult = min(max(self.depth_importance_mult, 0.0), 4.0)
