"""Capture: save the picture or the whole window, record turntable / expression-sequence videos (with a
progress bar), save and load the view state (latent, 25-d camera label, head) as .json or .npz."""

from __future__ import annotations

import math
from pathlib import Path

from imgui_bundle import imgui

from gui_utils.file_browser import FileBrowser
from next3d.capture.jobs import next_free_path, record_video, save_png, sequence_args, turntable_args
from next3d.capture.renderer import Renderer
from next3d.capture.state import load_state, save_state
from next3d.errors import Next3DError
from viz.app_state import restore_widget_values, widget_values
from viz.capture_job import CaptureJob

_PERSIST = ("out_dir", "frames", "fps", "yaw_amp_deg", "pitch_amp_deg", "state_path")


class CaptureWidget:
    title = "Capture"
    default_open = False

    def __init__(self, app):
        self.app = app
        self.out_dir = str(Path.cwd() / "captures")
        self.frames = 120
        self.fps = 30
        self.yaw_amp_deg = 30.0
        self.pitch_amp_deg = 10.0
        self.state_path = ""
        self.job: CaptureJob | None = None
        self._reported_job: CaptureJob | None = None  # the finished job whose outcome was already shown
        self.last_message = ""
        self._gui_shot: tuple[Path, int] | None = None  # (path, frame index it was requested on)
        self._renderer: Renderer | None = None
        self.state_browser = FileBrowser("Open view state", (".json", ".npz"))

    # -- actions (also used by tests and the app) --------------------------------------------------------
    def save_image(self) -> Path | None:
        shown = self.app.image_result
        if shown is None or shown.image is None:
            self.app.notify("nothing rendered yet to save")
            return None
        stem = f"seed{int(math.floor(shown.args.latent_x)):04d}" if shown.args else "frame"
        return self._report(lambda: save_png(next_free_path(self.out_dir, stem, ".png"), shown.image))

    def save_gui(self) -> None:
        """Save the whole window as it looks after this frame (written on the next frame)."""
        self._gui_shot = (next_free_path(self.out_dir, "gui", ".png"), self.app.frame_index)
        self.app.window.request_capture()

    def _renderer_for_jobs(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer(device=self.app.options.device, models=self.app.models)
        return self._renderer

    def record_turntable(self, path: str | Path | None = None) -> CaptureJob | None:
        frames = turntable_args(self.app.args.with_(yaw=self.app.camera.yaw, pitch=self.app.camera.pitch),
                                int(self.frames), math.radians(self.yaw_amp_deg), math.radians(self.pitch_amp_deg))
        out = Path(path) if path else next_free_path(self.out_dir, "turntable", ".mp4")
        return self._start("turntable", frames, out, float(self.fps))

    def record_expression(self, path: str | Path | None = None) -> CaptureJob | None:
        sequence = self.app.expression.sequence
        if sequence is None:
            self.app.notify("load an expression sequence (.npz) in the Expression panel first")
            return None
        out = Path(path) if path else next_free_path(self.out_dir, "expression", ".mp4")
        return self._start("expression video", sequence_args(self.app.args, sequence), out, sequence.fps)

    def _start(self, name: str, frames, out: Path, fps: float) -> CaptureJob | None:
        if self.job is not None and not self.job.finished:
            self.app.notify("a capture is already running")
            return None
        render = self._renderer_for_jobs().render_image
        self.job = CaptureJob(name, lambda progress, cancelled: record_video(render, frames, out, fps, progress,
                                                                             cancelled))
        return self.job

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def save_state(self, path: str | None = None) -> Path | None:
        path = path or self.state_path or str(next_free_path(self.out_dir, "state", ".json"))
        return self._report(lambda: save_state(path, self.app.args))

    def load_state(self, path: str | None = None) -> bool:
        """Apply a saved state's latent, camera and head to the widgets."""
        path = path or self.state_path
        try:
            args = load_state(path, self.app.args)
        except Next3DError as exc:
            self.app.notify(str(exc))
            return False
        latent, camera, expr = self.app.latent, self.app.camera, self.app.expression
        latent.x, latent.y, latent.psi, latent.latent_file = args.latent_x, args.latent_y, args.psi, args.latent_file
        latent.cutoff_on, latent.cutoff = args.cutoff is not None, args.cutoff if args.cutoff is not None else 14
        latent.mix_on = args.mix_seed is not None
        latent.mix_seed = args.mix_seed if args.mix_seed is not None else latent.mix_seed
        latent.mix_start, latent.mix_stop, latent.animate = args.mix_start, args.mix_stop, False
        camera.yaw, camera.pitch, camera.radius, camera.roll = args.yaw, args.pitch, args.radius, args.roll
        camera.fov_deg, camera.pivot, camera.orbit = args.fov_deg, args.pivot, False
        if args.cond_yaw is None:
            camera.cond_mode = 1
        elif args.cond_yaw == 0.0 and args.cond_pitch == 0.0:
            camera.cond_mode = 0
        else:
            camera.cond_mode, camera.cond_yaw, camera.cond_pitch = 2, args.cond_yaw, args.cond_pitch
        expr.load_head(args)
        self.state_path = str(path)
        self.app.notify(f"loaded {path}", error=False)
        return True

    def _report(self, action) -> Path | None:
        try:
            path = action()
        except (Next3DError, OSError) as exc:
            self.app.notify(f"save failed: {exc}")
            return None
        self.last_message = f"saved {path}"
        return path

    # -- frame --------------------------------------------------------------------------------------------
    def __call__(self, show: bool) -> None:
        self._finish_gui_shot()
        if self.job is not None and self.job.finished and self._reported_job is not self.job:
            self._reported_job = self.job
            if self.job.error:
                self.app.notify(f"{self.job.name} failed: {self.job.error}")
            elif self.job.cancelled:
                self.last_message = f"{self.job.name} cancelled; nothing written"
            else:
                self.last_message = f"saved {self.job.output}"
                self.app.notify(self.last_message, error=False)
        if show:
            self._draw()

    def _finish_gui_shot(self) -> None:
        if self._gui_shot is None:
            return
        path, requested = self._gui_shot
        if self.app.frame_index > requested and self.app.window.last_frame is not None:
            self._gui_shot = None
            self._report(lambda: save_png(path, self.app.window.last_frame))

    def _draw(self) -> None:
        em = imgui.get_font_size()
        imgui.set_next_item_width(-em * 4)
        _, self.out_dir = imgui.input_text("Folder", self.out_dir)
        if imgui.button("Save image"):
            self.save_image()
        imgui.same_line()
        if imgui.button("Save GUI"):
            self.save_gui()
        imgui.separator()
        running = self.job is not None and not self.job.finished
        imgui.set_next_item_width(em * 6)
        _, self.frames = imgui.input_int("Frames", self.frames, 10, 60)
        self.frames = min(max(self.frames, 1), 100000)
        imgui.same_line()
        imgui.set_next_item_width(em * 5)
        _, self.fps = imgui.input_int("fps", self.fps, 1, 10)
        self.fps = min(max(self.fps, 1), 240)
        imgui.set_next_item_width(em * 6)
        changed, seconds = imgui.input_float("seconds", self.frames / self.fps, 0.5, 2.0, "%.1f")
        if changed and seconds > 0:
            self.frames = max(1, round(seconds * self.fps))
        imgui.set_next_item_width(em * 10)
        _, self.yaw_amp_deg = imgui.slider_float("Yaw swing", self.yaw_amp_deg, 0.0, 90.0, "%.0f deg")
        imgui.set_next_item_width(em * 10)
        _, self.pitch_amp_deg = imgui.slider_float("Pitch swing", self.pitch_amp_deg, 0.0, 45.0, "%.0f deg")
        imgui.begin_disabled(running)
        if imgui.button("Record turntable"):
            self.record_turntable()
        imgui.same_line()
        imgui.begin_disabled(self.app.expression.sequence is None)
        if imgui.button("Record expression video"):
            self.record_expression()
        imgui.end_disabled()
        imgui.end_disabled()
        if self.job is not None and (running or self.job.total):
            overlay = f"{self.job.name}: {self.job.done}/{self.job.total}" if self.job.total else self.job.name
            imgui.progress_bar(self.job.fraction, (-em * 5 if running else -1, 0), overlay)
            if running:
                imgui.same_line()
                if imgui.button("Cancel"):
                    self.job.cancel()
        imgui.separator()
        imgui.set_next_item_width(-em * 4)
        _, self.state_path = imgui.input_text("State", self.state_path)
        if imgui.button("Save state"):
            self.save_state()
        imgui.same_line()
        if imgui.button("Load state"):
            self.load_state()
        imgui.same_line()
        if imgui.button("Browse##state"):
            self.state_browser.open(self.state_path or self.out_dir)
        chosen = self.state_browser()
        if chosen is not None:
            self.load_state(str(chosen))
        if self.last_message:
            imgui.text_wrapped(self.last_message)

    def persisted(self) -> dict:
        return widget_values(self, _PERSIST)

    def restore(self, saved: dict) -> None:
        restore_widget_values(self, _PERSIST, saved)
