"""The strip of sampled candidates: one clickable thumbnail each, the chosen one outlined."""

from __future__ import annotations

from imgui_bundle import imgui

from gui_utils.gl_texture import Texture
from viz.diffusion_sampling import Candidates

THUMBNAIL_EM = 4.5      # thumbnail side in font units
CHOSEN_RGBA = (1.0, 0.75, 0.2, 1.0)


class CandidateStrip:
    """Holds the candidates and their textures; `__call__()` draws them and returns the index clicked (or None)."""

    def __init__(self):
        self.candidates: Candidates | None = None
        self.chosen: int | None = None
        self.item_rects: list[tuple[tuple[float, float], tuple[float, float]]] = []  # screen rects drawn last frame
        self._textures: list[Texture] = []

    def show(self, candidates: Candidates) -> None:
        """Replace the strip with new candidates (uploads their thumbnails; GUI thread only)."""
        self.delete()
        self.candidates, self.chosen = candidates, None
        for thumbnail in candidates.thumbnails:
            texture = Texture()
            texture.upload(thumbnail)
            self._textures.append(texture)

    def __call__(self) -> int | None:
        if self.candidates is None:
            return None
        em = imgui.get_font_size()
        size = em * THUMBNAIL_EM
        per_row = max(1, int((imgui.get_content_region_avail().x + em * 0.4) // (size + em * 0.9)))
        clicked = None
        self.item_rects = []
        for i, texture in enumerate(self._textures):
            if i % per_row:
                imgui.same_line()
            chosen = i == self.chosen
            if chosen:
                imgui.push_style_color(imgui.Col_.button, CHOSEN_RGBA)
            if imgui.image_button(f"candidate{i}", texture.ref, (size, size)):
                clicked = i
            low, high = imgui.get_item_rect_min(), imgui.get_item_rect_max()
            self.item_rects.append(((low.x, low.y), (high.x, high.y)))
            if chosen:
                imgui.pop_style_color()
            loss = self.candidates.losses[i] if self.candidates.losses else None
            imgui.set_item_tooltip(f"seed {self.candidates.seeds[i]}"
                                   + (f", guidance loss {loss:.4f}" if loss is not None else "")
                                   + "\nclick: make it the current avatar")
        return clicked

    def delete(self) -> None:
        for texture in self._textures:
            texture.delete()
        self._textures, self.candidates, self.chosen, self.item_rects = [], None, None, []
