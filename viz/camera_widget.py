"""Camera: yaw/pitch (also by dragging on the picture), radius, roll, fov, look-at presets, snap/reset,
orbit animation; the mapping network's conditioning pose is set separately."""

from __future__ import annotations

import math

from imgui_bundle import imgui

from gui_utils.imgui_utils import hint
from next3d.capture.orbit import turntable_angles
from next3d.render.camera import DEFAULT_FOV_DEG, DEFAULT_PIVOT, DEFAULT_RADIUS
from viz.app_state import restore_widget_values, widget_values

PITCH_LIMIT = math.radians(85.0)
DRAG_RADIANS_PER_CANVAS = math.pi  # dragging across the whole canvas turns the head by 180 degrees
SNAP_DEG = 15.0
# name -> (yaw, pitch) in degrees; yaw > 0 moves the camera to the subject's left
LOOK_AT_PRESETS = {"Front": (0, 0), "3/4 left": (35, 0), "3/4 right": (-35, 0), "Left profile": (85, 0),
                   "Right profile": (-85, 0), "Above": (0, 30), "Below": (0, -25)}
COND_MODES = ("Front", "Same as camera", "Custom")
_PERSIST = ("yaw", "pitch", "radius", "roll", "fov_deg", "pivot", "cond_mode", "cond_yaw", "cond_pitch",
            "orbit_yaw_amp", "orbit_pitch_amp", "orbit_period")


class CameraWidget:
    title = "Camera"
    default_open = True

    def __init__(self, app):
        self.app = app
        self.yaw = 0.0    # radians
        self.pitch = 0.0  # radians
        self.radius = DEFAULT_RADIUS
        self.roll = 0.0   # radians
        self.fov_deg = DEFAULT_FOV_DEG
        self.pivot = DEFAULT_PIVOT
        self.cond_mode = 0      # index into COND_MODES
        self.cond_yaw = 0.0     # radians, for "Custom"
        self.cond_pitch = 0.0
        self.orbit = False
        self.orbit_yaw_amp = math.radians(30)
        self.orbit_pitch_amp = math.radians(10)
        self.orbit_period = 6.0  # seconds per loop
        self.orbit_phase = 0.0

    def drag(self, dx: float, dy: float) -> None:
        """Grab-and-turn: dragging right turns the face to the viewer's right, dragging down tilts it down."""
        self.yaw -= dx * DRAG_RADIANS_PER_CANVAS
        self.pitch = max(-PITCH_LIMIT, min(PITCH_LIMIT, self.pitch + dy * DRAG_RADIANS_PER_CANVAS))

    def roll_drag(self, dx: float) -> None:
        self.roll += dx * DRAG_RADIANS_PER_CANVAS

    def zoom(self, wheel_steps: float) -> None:
        self.radius = max(0.5, min(10.0, self.radius * (0.95 ** wheel_steps)))

    def reset(self) -> None:
        self.yaw = self.pitch = self.roll = 0.0
        self.radius, self.fov_deg, self.pivot = DEFAULT_RADIUS, DEFAULT_FOV_DEG, DEFAULT_PIVOT
        self.orbit_phase = 0.0

    def snap(self) -> None:
        step = math.radians(SNAP_DEG)
        self.yaw, self.pitch = round(self.yaw / step) * step, round(self.pitch / step) * step
        self.roll = round(self.roll / step) * step

    def render_angles(self) -> tuple[float, float]:
        """Yaw and pitch of this frame (orbit animation added)."""
        if not self.orbit:
            return self.yaw, self.pitch
        dyaw, dpitch = turntable_angles(self.orbit_phase, self.orbit_yaw_amp, self.orbit_pitch_amp)
        return self.yaw + dyaw, max(-PITCH_LIMIT, min(PITCH_LIMIT, self.pitch + dpitch))

    def __call__(self, show: bool) -> None:
        if self.orbit:
            self.orbit_phase = (self.orbit_phase + min(imgui.get_io().delta_time, 0.25)
                                / max(self.orbit_period, 0.1)) % 1.0
        if show:
            self._draw()
        yaw, pitch = self.render_angles()
        mode = COND_MODES[self.cond_mode]
        cond_yaw = None if mode == "Same as camera" else (self.cond_yaw if mode == "Custom" else 0.0)
        cond_pitch = self.cond_pitch if mode == "Custom" else 0.0
        self.app.update_args(yaw=yaw, pitch=pitch, radius=self.radius, roll=self.roll, fov_deg=self.fov_deg,
                             pivot=tuple(self.pivot), cond_yaw=cond_yaw, cond_pitch=cond_pitch)

    def _draw(self) -> None:
        em = imgui.get_font_size()
        width = em * 12
        self._angle_slider("Yaw", "yaw", -180, 180, "%.1f deg", width)
        self._angle_slider("Pitch", "pitch", -85, 85, "%.1f deg", width)
        self._angle_slider("Roll", "roll", -180, 180, "%.1f deg", width)
        imgui.set_next_item_width(width)
        _, self.radius = imgui.slider_float("Radius", self.radius, 1.0, 6.0, "%.2f")
        imgui.set_next_item_width(width)
        _, self.fov_deg = imgui.slider_float("FOV", self.fov_deg, 5.0, 60.0, "%.2f deg")
        imgui.set_next_item_width(width)
        changed, pivot = imgui.drag_float3("Look at", list(self.pivot), 0.005, -1.0, 1.0, "%.3f")
        if changed:
            self.pivot = tuple(float(v) for v in pivot)
        for i, (name, (yaw_deg, pitch_deg)) in enumerate(LOOK_AT_PRESETS.items()):
            if i % 4:
                imgui.same_line()
            if imgui.small_button(name):
                self.yaw, self.pitch = math.radians(yaw_deg), math.radians(pitch_deg)
        if imgui.button("Snap"):
            self.snap()
        imgui.set_item_tooltip(f"Round yaw, pitch and roll to {SNAP_DEG:.0f} degree steps")
        imgui.same_line()
        if imgui.button("Reset"):
            self.reset()
        imgui.same_line()
        _, self.orbit = imgui.checkbox("Orbit", self.orbit)
        if self.orbit:
            self._angle_slider("Yaw swing", "orbit_yaw_amp", 0, 90, "%.0f deg", width)
            self._angle_slider("Pitch swing", "orbit_pitch_amp", 0, 45, "%.0f deg", width)
            imgui.set_next_item_width(width)
            _, self.orbit_period = imgui.slider_float("Period", self.orbit_period, 1.0, 30.0, "%.1f s")
        imgui.separator()
        imgui.set_next_item_width(width)
        _, self.cond_mode = imgui.combo("Conditioning", self.cond_mode, list(COND_MODES))
        imgui.set_item_tooltip("Camera the mapping network is conditioned on (EG3D-style generators)")
        if COND_MODES[self.cond_mode] == "Custom":
            self._angle_slider("Cond yaw", "cond_yaw", -90, 90, "%.1f deg", width)
            self._angle_slider("Cond pitch", "cond_pitch", -60, 60, "%.1f deg", width)
        hint("Drag the picture to turn, wheel to zoom, right-drag to roll, double-click to reset.")

    def _angle_slider(self, label: str, attr: str, lo_deg: float, hi_deg: float, fmt: str, width: float) -> None:
        """A slider in degrees over one of this widget's angles, which are kept in radians."""
        imgui.set_next_item_width(width)
        changed, degrees = imgui.slider_float(label, math.degrees(getattr(self, attr)), lo_deg, hi_deg, fmt)
        if changed:
            setattr(self, attr, math.radians(degrees))

    def persisted(self) -> dict:
        return widget_values(self, _PERSIST)

    def restore(self, saved: dict) -> None:
        restore_widget_values(self, _PERSIST, saved)
        self.cond_mode = min(max(int(self.cond_mode), 0), len(COND_MODES) - 1)
