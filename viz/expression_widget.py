"""Expression: a slider per named expression of the loaded head model (first PCA components for FLAME-like
heads), jaw, eye gaze, neck, identity shape; presets, randomize, reset; looping playback of a sequence file."""

from __future__ import annotations

import math

import numpy as np
from imgui_bundle import imgui

from gui_utils.file_browser import FileBrowser
from gui_utils.imgui_utils import hint
from next3d.capture.sequence import HeadSequence, load_head_sequence
from next3d.errors import Next3DError
from viz.app_state import restore_widget_values, widget_values
from viz.expression_presets import PRESETS, preset_applies, preset_values

PCA_SLIDERS = 12      # unnamed (PCA) expression coefficients shown
SHAPE_SLIDERS = 10    # identity coefficients shown
_PERSIST = ("jaw_open", "jaw_side", "gaze_yaw", "gaze_pitch", "neck_pitch", "neck_yaw", "neck_roll",
            "sequence_path", "named_values")


class ExpressionWidget:
    title = "Expression"
    default_open = True

    def __init__(self, app):
        self.app = app
        self.names: tuple[str, ...] = ()
        self.named = False
        self.values: list[float] = []          # one per expression coefficient of the current head
        self.named_values: dict = {}           # name -> value, survives model switches and restarts
        self.shape: list[float] = []
        self.jaw_open = 0.0    # radians about +x (positive opens the mouth)
        self.jaw_side = 0.0    # radians about +y
        self.gaze_yaw = 0.0    # radians, both eyes, positive looks toward the subject's left
        self.gaze_pitch = 0.0  # radians about +x
        self.neck_pitch = 0.0
        self.neck_yaw = 0.0
        self.neck_roll = 0.0
        self.filter = ""
        self.sequence: HeadSequence | None = None
        self.sequence_path = ""
        self.playing = False
        self.seq_time = 0.0
        self.seq_speed = 1.0
        self._random = np.random.RandomState(1234)
        self.browser = FileBrowser("Open expression sequence", (".npz",))
        self._preset_applies = [True] * len(PRESETS)

    # -- model-dependent sizes ----------------------------------------------------------------------------
    def _sync_with_model(self) -> None:
        model = self.app.model
        if model is None or (model.expression_names == self.names and len(self.shape) == model.num_shape):
            return
        self.names, self.named = model.expression_names, model.expressions_named
        self._preset_applies = [preset_applies(p, self.names, self.named) for p in PRESETS]
        self.values = [float(self.named_values.get(n, 0.0)) if self.named else 0.0 for n in self.names]
        self.shape = (self.shape + [0.0] * model.num_shape)[:model.num_shape]

    def set_expression(self, name: str, value: float) -> None:
        """Set one coefficient by its name (e.g. 'jawOpen' or 'pca 0')."""
        self._sync_with_model()
        i = self.names.index(name)
        self.values[i] = float(value)
        self.named_values[name] = float(value)

    def apply_preset(self, preset_name: str) -> None:
        self._sync_with_model()
        preset = next(p for p in PRESETS if p.name == preset_name)
        self.values, _ = preset_values(preset, self.names, self.named)
        self.named_values = dict(zip(self.names, self.values)) if self.named else {}
        self.jaw_open, self.jaw_side = preset.jaw_open, 0.0

    def randomize(self) -> None:
        self._sync_with_model()
        n = len(self.values)
        if self.named:
            active = self._random.rand(n) < 0.3
            self.values = [float(v) for v in np.where(active, self._random.uniform(0.0, 0.7, n), 0.0)]
            self.named_values = dict(zip(self.names, self.values))
        else:
            k = min(n, PCA_SLIDERS)
            self.values = [float(v) for v in self._random.randn(k) * 0.8] + [0.0] * (n - k)
        self.jaw_open = float(self._random.uniform(0.0, 0.25))

    def reset(self) -> None:
        self.values = [0.0] * len(self.values)
        self.named_values = {}
        self.jaw_open = self.jaw_side = self.gaze_yaw = self.gaze_pitch = 0.0
        self.neck_pitch = self.neck_yaw = self.neck_roll = 0.0

    def load_head(self, args) -> None:
        """Take the head state of `args` (e.g. from a loaded view state) into the sliders."""
        self._sync_with_model()
        values = list(args.expression)
        if self.names:
            values = (values + [0.0] * len(self.names))[:len(self.names)]
        self.values = [float(v) for v in values]
        self.named_values = dict(zip(self.names, self.values)) if self.named else {}
        if args.shape:
            self.shape = [float(v) for v in args.shape]
        self.jaw_open, self.jaw_side = float(args.jaw[0]), float(args.jaw[1])
        self.gaze_pitch, self.gaze_yaw = float(args.eyes[0]), float(args.eyes[1])
        self.neck_pitch, self.neck_yaw, self.neck_roll = (float(v) for v in args.neck)
        self.playing, self.seq_time = False, 0.0

    def load_sequence(self, path: str) -> bool:
        try:
            self.sequence = load_head_sequence(path)
        except Next3DError as exc:
            self.app.notify(str(exc))
            return False
        self.sequence_path, self.seq_time, self.playing = str(path), 0.0, True
        return True

    @property
    def sequence_frame(self) -> int:
        if self.sequence is None:
            return 0
        return int(math.floor(self.seq_time * self.sequence.fps)) % len(self.sequence)

    # -- frame --------------------------------------------------------------------------------------------
    def __call__(self, show: bool) -> None:
        self._sync_with_model()
        if self.playing and self.sequence is not None:
            self.seq_time += min(imgui.get_io().delta_time, 0.25) * self.seq_speed
        if show:
            self._draw()
        head = {
            "expression": tuple(self.values),
            "shape": tuple(self.shape),
            "jaw": (self.jaw_open, self.jaw_side, 0.0),
            "eyes": (self.gaze_pitch, self.gaze_yaw, 0.0) * 2,
            "neck": (self.neck_pitch, self.neck_yaw, self.neck_roll),
        }
        if self.sequence is not None and (self.playing or self.seq_time > 0):
            head.update(self.sequence.frame(self.sequence_frame))
        self.app.update_args(**head)

    def _draw(self) -> None:
        em = imgui.get_font_size()
        if self.app.model is None:
            hint("waiting for the model ...")
            return
        for i, preset in enumerate(PRESETS):
            if i % 4:
                imgui.same_line()
            applies = self._preset_applies[i]
            imgui.begin_disabled(not applies)
            if imgui.small_button(preset.name):
                self.apply_preset(preset.name)
            imgui.end_disabled()
            if not applies:
                imgui.set_item_tooltip("this head's expressions have no names to match")
        if imgui.button("Randomize"):
            self.randomize()
        imgui.same_line()
        if imgui.button("Reset##expr"):
            self.reset()
        self._draw_pose_sliders(em)
        self._draw_coefficients(em)
        self._draw_shape(em)
        self._draw_sequence(em)

    def _slider_deg(self, label: str, radians: float, lo: float, hi: float, em: float) -> float:
        imgui.set_next_item_width(em * 11)
        changed, deg = imgui.slider_float(label, math.degrees(radians), lo, hi, "%.1f deg")
        return math.radians(deg) if changed else radians

    def _draw_pose_sliders(self, em: float) -> None:
        self.jaw_open = self._slider_deg("Jaw open", self.jaw_open, -5, 30, em)
        self.jaw_side = self._slider_deg("Jaw sideways", self.jaw_side, -10, 10, em)
        self.gaze_yaw = self._slider_deg("Gaze left/right", self.gaze_yaw, -30, 30, em)
        self.gaze_pitch = self._slider_deg("Gaze up/down", self.gaze_pitch, -25, 25, em)
        self.neck_pitch = self._slider_deg("Neck nod", self.neck_pitch, -30, 30, em)
        self.neck_yaw = self._slider_deg("Neck turn", self.neck_yaw, -45, 45, em)
        self.neck_roll = self._slider_deg("Neck tilt", self.neck_roll, -30, 30, em)

    def _draw_coefficients(self, em: float) -> None:
        count = len(self.names) if self.named else min(PCA_SLIDERS, len(self.names))
        if not imgui.tree_node(f"Expressions ({count} of {len(self.names)})"):
            return
        imgui.set_next_item_width(em * 11)
        _, self.filter = imgui.input_text_with_hint("##filter", "filter by name", self.filter)
        lo, hi = (0.0, 1.0) if self.named else (-3.0, 3.0)
        imgui.begin_child("coefficients", (0, em * 14), imgui.ChildFlags_.borders)
        needle = self.filter.lower()
        for i in range(count):
            name = self.names[i]
            if needle and needle not in name.lower():
                continue
            imgui.set_next_item_width(em * 9)
            changed, value = imgui.slider_float(name, self.values[i], lo, hi, "%.2f")
            if changed:
                self.values[i] = value
                if self.named:
                    self.named_values[name] = value
        imgui.end_child()
        imgui.tree_pop()

    def _draw_shape(self, em: float) -> None:
        if not self.shape or not imgui.tree_node(f"Identity shape ({min(SHAPE_SLIDERS, len(self.shape))} "
                                                 f"of {len(self.shape)})"):
            return
        for i in range(min(SHAPE_SLIDERS, len(self.shape))):
            imgui.set_next_item_width(em * 9)
            names = self.app.model.shape_names
            label = names[i] if i < len(names) else f"shape {i}"
            _, self.shape[i] = imgui.slider_float(label, self.shape[i], -3.0, 3.0, "%.2f")
        if imgui.button("Random shape"):
            k = min(SHAPE_SLIDERS, len(self.shape))
            self.shape = [float(v) for v in self._random.randn(k)] + [0.0] * (len(self.shape) - k)
        imgui.same_line()
        if imgui.button("Mean shape"):
            self.shape = [0.0] * len(self.shape)
        imgui.tree_pop()

    def _draw_sequence(self, em: float) -> None:
        imgui.separator()
        imgui.set_next_item_width(-em * 6)
        entered, self.sequence_path = imgui.input_text("##sequence", self.sequence_path,
                                                       imgui.InputTextFlags_.enter_returns_true)
        if entered:
            self.load_sequence(self.sequence_path)
        imgui.same_line()
        if imgui.button("Sequence..."):
            self.browser.open(self.sequence_path or None)
        chosen = self.browser()
        if chosen is not None:
            self.load_sequence(str(chosen))
        if self.sequence is None:
            hint("Play a .npz of per-frame head parameters (jaw, expression, ...).")
            return
        if imgui.button("Pause" if self.playing else "Play"):
            self.playing = not self.playing
        imgui.same_line()
        if imgui.button("Stop"):
            self.playing, self.seq_time = False, 0.0
        imgui.same_line()
        imgui.set_next_item_width(em * 8)
        changed, frame = imgui.slider_int("frame", self.sequence_frame, 0, len(self.sequence) - 1)
        if changed:
            self.seq_time = (frame + 0.5) / self.sequence.fps
        imgui.set_next_item_width(em * 8)
        _, self.seq_speed = imgui.slider_float("speed", self.seq_speed, 0.1, 4.0, "%.1fx")
        hint(f"{len(self.sequence)} frames at {self.sequence.fps:g} fps, looping; fields: "
                            f"{', '.join(self.sequence.arrays)}")

    def persisted(self) -> dict:
        return widget_values(self, _PERSIST)

    def restore(self, saved: dict) -> None:
        restore_widget_values(self, _PERSIST, saved)
        if not isinstance(self.named_values, dict):
            self.named_values = {}
        self.named_values = {k: float(v) for k, v in self.named_values.items()
                             if isinstance(k, str) and isinstance(v, (int, float)) and math.isfinite(v)}
