"""Latent: seed, fractional 2-D walk between seeds (drag, animate, snap), truncation psi/cutoff, style mixing;
or a latent file (a saved one, a diffusion sample, an inversion), labelled by where it came from."""

from __future__ import annotations

import math

from imgui_bundle import imgui

from gui_utils.file_browser import FileBrowser
from gui_utils.imgui_utils import hint
from next3d.capture.latent_bank import INVERTED, SAMPLED, latent_source
from next3d.capture.latents import SEED_MASK, seed_at
from viz.app_state import restore_widget_values, widget_values

_PERSIST = ("x", "y", "psi", "cutoff_on", "cutoff", "mix_on", "mix_seed", "mix_start", "mix_stop",
            "anim_speed")
DRAG_SEEDS_PER_CANVAS = 4.0  # dragging across the whole canvas moves this many seeds


class LatentWidget:
    title = "Latent"
    default_open = True

    def __init__(self, app):
        self.app = app
        self.x = 0.0  # seed-grid position; seed = floor(x) + 100 floor(y)
        self.y = 0.0
        self.animate = False
        self.anim_speed = 0.25  # seeds per second along x
        self.psi = 0.7
        self.cutoff_on = False
        self.cutoff = 14
        self.mix_on = False
        self.mix_seed = 1
        self.mix_start = 0
        self.mix_stop = 0
        self.latent_file = ""
        self._source: tuple[str, str] = ("", "")  # (latent file, its source line) read once per file
        self.browser = FileBrowser("Open latent (.npz with w or z)", (".npz",))

    @property
    def seed(self) -> int:
        return seed_at(self.x, self.y)

    def set_seed(self, seed: int) -> None:
        self.x, self.y = float(max(0, min(int(seed), SEED_MASK))), 0.0

    def use_latent_file(self, path: str) -> None:
        """Render this latent file instead of the seeds (the camera and expression widgets keep working)."""
        self.latent_file, self.animate = str(path), False

    def back_to_seeds(self) -> None:
        self.latent_file = ""

    @property
    def source_label(self) -> str:
        """What the current latent is: 'seeds', or the latent file's kind and origin."""
        if not self.latent_file:
            return "seeds"
        if self._source[0] != self.latent_file:
            self._source = (self.latent_file, latent_source(self.latent_file))
        source = self._source[1]
        if source.startswith(SAMPLED):
            return "Sampled latent (" + source[len(SAMPLED):].lstrip(": ") + ")"
        if source.startswith(INVERTED):
            return "Inverted latent (" + source[len(INVERTED):].lstrip(": ") + ")"
        return f"Latent file {self.latent_file}"

    def drag(self, dx: float, dy: float) -> None:
        """Move the latent by a drag of (dx, dy) canvas sizes."""
        self.x += dx * DRAG_SEEDS_PER_CANVAS
        self.y += dy * DRAG_SEEDS_PER_CANVAS
        self.y = max(0.0, self.y)

    def __call__(self, show: bool) -> None:
        if self.animate:
            self.x += self.anim_speed * min(imgui.get_io().delta_time, 0.25)
        if show:
            self._draw()
        num_ws = self.app.model.num_ws if self.app.model else 0
        mixing = self.mix_on and self.mix_stop > self.mix_start
        self.app.update_args(
            latent_x=self.x, latent_y=self.y, latent_file=self.latent_file, psi=self.psi,
            cutoff=int(self.cutoff) if self.cutoff_on else None,
            mix_seed=int(self.mix_seed) if mixing else None,
            mix_start=int(self.mix_start) if mixing else 0,
            mix_stop=int(min(self.mix_stop, num_ws) if num_ws else self.mix_stop) if mixing else 0)

    def _draw(self) -> None:
        em = imgui.get_font_size()
        num_ws = self.app.model.num_ws if self.app.model else 28
        if self.latent_file:
            imgui.push_style_color(imgui.Col_.text, (1.0, 0.8, 0.35, 1.0))
            imgui.text_wrapped(self.source_label)
            imgui.pop_style_color()
            if imgui.button("Back to seeds"):
                self.back_to_seeds()
            imgui.set_item_tooltip(f"Render seed {self.seed} again (the latent file stays on disk)")
            hint("A stored W+ is used as it is: the seed, walk and truncation below apply after going back "
                 "to seeds; style mixing still applies.")
        imgui.set_next_item_width(em * 7)
        changed, seed = imgui.input_int("Seed", self.seed)
        if changed:
            self.set_seed(seed)
        imgui.same_line()
        if imgui.button("Snap"):
            self.x, self.y = float(round(self.x)), float(round(self.y))
        imgui.same_line()
        imgui.button("Drag")
        if imgui.is_item_active():
            delta = imgui.get_io().mouse_delta
            self.drag(delta.x / (em * 20), delta.y / (em * 20))
        imgui.set_item_tooltip("Hold and move the mouse to walk between seeds (or shift-drag on the picture)")
        imgui.set_next_item_width(em * 12)
        changed, xy = imgui.drag_float2("Walk x, y", [self.x, self.y], 0.01, 0.0, 0.0, "%.2f")
        if changed:
            self.x, self.y = float(xy[0]), max(0.0, float(xy[1]))
        _, self.animate = imgui.checkbox("Animate", self.animate)
        imgui.same_line()
        imgui.set_next_item_width(em * 6)
        _, self.anim_speed = imgui.slider_float("seeds/s", self.anim_speed, -2.0, 2.0, "%.2f")
        imgui.set_next_item_width(em * 12)
        _, self.psi = imgui.slider_float("Truncation psi", self.psi, -1.0, 2.0, "%.2f")
        _, self.cutoff_on = imgui.checkbox("Cutoff", self.cutoff_on)
        imgui.set_item_tooltip("Truncate only the first N w rows (Next3D's scripts use 14: the EG3D half)")
        if self.cutoff_on:
            imgui.same_line()
            imgui.set_next_item_width(em * 8)
            _, self.cutoff = imgui.slider_int("rows##cutoff", self.cutoff, 0, num_ws)
        _, self.mix_on = imgui.checkbox("Style mixing", self.mix_on)
        if self.mix_on:
            imgui.set_next_item_width(em * 7)
            changed, mix_seed = imgui.input_int("Mix seed", self.mix_seed)
            if changed:
                self.mix_seed = max(0, min(mix_seed, SEED_MASK))
            imgui.set_next_item_width(em * 12)
            _, start, stop = imgui.drag_int_range2("Rows", self.mix_start, self.mix_stop, 0.1, 0, num_ws)
            self.mix_start, self.mix_stop = sorted((int(start), int(stop)))
            hint(f"rows [{self.mix_start}, {self.mix_stop}) come from seed {self.mix_seed}")
        imgui.set_next_item_width(-em * 5)
        _, self.latent_file = imgui.input_text("##latent", self.latent_file)
        imgui.same_line()
        if imgui.button("Latent..."):
            self.browser.open(self.latent_file or None)
        imgui.set_item_tooltip("Use a saved latent (.npz with 'w' or 'z') instead of seeds; clear to go back")
        chosen = self.browser()
        if chosen is not None:
            self.latent_file = str(chosen)
        if not math.isfinite(self.x) or not math.isfinite(self.y):
            self.x, self.y = 0.0, 0.0

    def persisted(self) -> dict:
        return widget_values(self, _PERSIST)

    def restore(self, saved: dict) -> None:
        restore_widget_values(self, _PERSIST, saved)
