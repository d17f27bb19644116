"""Invert: pick a photo, watch the fit live in the canvas, then explore the result with the camera and expression
widgets. The fitted W+ becomes the current latent (a content-addressed latent file), the fitted camera the
current camera; with pivotal tuning the tuned generator copy becomes the current model, in memory until saved."""

from __future__ import annotations

import math
from pathlib import Path

from imgui_bundle import imgui

from gui_utils.file_browser import FileBrowser
from gui_utils.imgui_utils import hint
from next3d.capture.jobs import next_free_path
from next3d.capture.latent_bank import INVERTED, store_wplus
from next3d.errors import Next3DError
from next3d.invert.camera_fit import OrbitCamera
from next3d.invert.settings import InversionSettings
from next3d.render.camera import focal_to_fov, fov_to_focal
from viz.app_state import restore_widget_values, widget_values
from viz.background_job import BackgroundJob
from viz.canvas import CanvasPreview
from viz.guidance_panel import IMAGE_SUFFIXES
from viz.inversion_run import InvertOutcome, InvertRequest, run_invert

_PERSIST = ("photo_path", "mask_path", "steps", "space_index", "pti", "pti_steps", "camera_known", "start_current")
SPACES = ("w+", "w")
SPACE_LABELS = ("W+ (every row)", "W (one row)")


class InvertWidget:
    title = "Invert (photo to avatar)"
    default_open = False

    def __init__(self, app):
        self.app = app
        self.photo_path = ""
        self.mask_path = ""
        self.steps = 100
        self.space_index = 0
        self.pti = False
        self.pti_steps = 50
        self.camera_known = False      # True: the current camera is the photo's camera (kept fixed)
        self.start_current = False     # True: start from the latent on screen instead of the mean latent
        self.save_path = ""
        self.job: BackgroundJob | None = None
        self._collected_job: BackgroundJob | None = None
        self.save_job: BackgroundJob | None = None
        self.tuned = None              # (generator, memory spec, source checkpoint, photo) of the last PTI run
        self.last_message = ""
        self._tuned_count = 0
        self.photo_browser = FileBrowser("Open photo", IMAGE_SUFFIXES)
        self.mask_browser = FileBrowser("Open mask (white = fit)", IMAGE_SUFFIXES)

    # -- actions (also used by tests) ---------------------------------------------------------------------
    def start(self, photo: str | None = None) -> BackgroundJob | None:
        """Invert `photo` (default: the path field) with the panel's settings, on the model on screen."""
        photo = (photo if photo is not None else self.photo_path).strip()
        if not photo:
            self.app.notify("invert: choose a photo first")
            return None
        if self.running:
            self.app.notify("invert: an inversion is already running")
            return None
        self.photo_path = photo
        args = self.app.args
        camera = None
        if self.camera_known:
            camera = OrbitCamera(args.yaw, args.pitch, args.radius, args.roll, fov_to_focal(args.fov_deg), args.pivot)
        try:
            settings = InversionSettings(latent_space=SPACES[self.space_index], steps=int(self.steps),
                                         pti_steps=int(self.pti_steps) if self.pti else 0,
                                         neural_rendering_resolution=args.neural_res).validate()
        except Next3DError as exc:
            self.app.notify(f"invert: {exc}")
            return None
        self._tuned_count += 1
        request = InvertRequest(photo, self.mask_path.strip() or None, settings, camera, args.checkpoint,
                                args if self.start_current else None, f"tuned-{self._tuned_count}")
        models, device = self.app.models, self._device()
        self.last_message = ""
        self.job = BackgroundJob("invert", lambda job: run_invert(job, request, models, device))
        return self.job

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job.wait(10)
        if self.save_job is not None:
            self.save_job.wait(30)  # a file being written is finished, not abandoned

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.finished

    def save_tuned(self, path: str | None = None) -> BackgroundJob | None:
        """Write the tuned generator (atomically, in the background); the saved file then becomes the model."""
        from next3d.io.generator_file import save_generator

        if self.tuned is None:
            self.app.notify("no tuned generator to save (run an inversion with pivotal tuning)")
            return None
        if self.save_job is not None and not self.save_job.finished:
            return None
        generator, _, source, photo = self.tuned
        target = Path(path or self.save_path or next_free_path(self.app.capture.out_dir, "tuned", ".safetensors"))
        self.save_path = str(target)

        def work(job) -> Path:
            job.progress(0, 1, f"writing {target.name}")
            save_generator(target, generator, inversion={"source_checkpoint": source, "photo": photo})
            return target

        self.save_job = BackgroundJob("save tuned generator", work)
        return self.save_job

    # -- frame --------------------------------------------------------------------------------------------
    def __call__(self, show: bool) -> None:
        self._collect()
        latest = self.job.latest if self.running else None
        self.app.canvas.preview = CanvasPreview(latest.image, f"inverting: {self.job.status}") \
            if latest is not None else None
        if show:
            self._draw()

    def _collect(self) -> None:
        saving = self.save_job
        if saving is not None and saving.finished:
            self.save_job = None
            if saving.error:
                self.app.notify(f"saving the tuned generator failed: {saving.error}")
            else:
                self.tuned = None
                self.app.checkpoint.load(str(saving.result))
                self.last_message = f"saved the tuned generator to {saving.result}"
                self.app.notify(self.last_message, error=False)
        job = self.job
        if job is None or not job.finished or self._collected_job is job:
            return
        self._collected_job = job
        if job.error:
            self.last_message = f"inversion failed: {job.error}"
            self.app.notify(job.error)
        elif job.result.result.cancelled:
            self.last_message = "inversion cancelled; the avatar on screen is unchanged"
        else:
            self._apply(job.result)

    def _apply(self, outcome: InvertOutcome) -> None:
        """The fitted latent, camera (and tuned generator) become what the canvas shows."""
        result, request = outcome.result, outcome.request
        name = Path(request.photo).name
        tuned = " with a tuned generator" if outcome.tuned is not None else ""
        source = f"{INVERTED}: {name}, PSNR {result.psnr_before:.1f} -> {result.psnr_after:.1f} dB{tuned}"
        try:
            path = store_wplus(self.app.latent_dir, result.w_plus, source)
        except (Next3DError, OSError) as exc:
            self.app.notify(f"could not store the inverted latent: {exc}")
            return
        if outcome.tuned is not None:
            self.tuned = (result.tuned_generator, outcome.tuned.spec, request.checkpoint, request.photo)
            self.app.use_memory_model(outcome.tuned)
        self.app.latent.use_latent_file(str(path))
        camera = self.app.camera
        fitted = result.camera
        camera.yaw, camera.pitch, camera.radius, camera.roll = fitted.yaw, fitted.pitch, fitted.radius, fitted.roll
        camera.fov_deg, camera.pivot, camera.orbit = focal_to_fov(fitted.focal), tuple(fitted.pivot), False
        self.app.expression.reset()  # the fit used the neutral head
        self.last_message = f"{name}: PSNR {result.psnr_before:.1f} -> {result.psnr_after:.1f} dB, camera yaw " \
                            f"{math.degrees(fitted.yaw):.0f} deg, pitch {math.degrees(fitted.pitch):.0f} deg" + tuned
        for line in outcome.notes:
            self.last_message += f"\n{line}"
        self.app.notify(f"inverted {self.last_message}", error=False)
        for warning in result.warnings:
            self.app.notify(warning)

    def _draw(self) -> None:
        em = imgui.get_font_size()
        for label, attr, browser in (("Photo", "photo_path", self.photo_browser),
                                     ("Mask", "mask_path", self.mask_browser)):
            imgui.set_next_item_width(-em * 6.5)
            _, value = imgui.input_text(f"##{attr}", getattr(self, attr))
            setattr(self, attr, value)
            imgui.same_line()
            if imgui.button(f"{label}..."):
                browser.open(getattr(self, attr) or None)
            chosen = browser()
            if chosen is not None:
                setattr(self, attr, str(chosen))
        hint("Mask (optional): an image of the photo's size, white = fit, black = ignore.")
        imgui.set_next_item_width(em * 7)
        changed, steps = imgui.input_int("Steps##invert", self.steps, 10, 100)
        if changed:
            self.steps = min(max(steps, 1), 5000)
        imgui.set_next_item_width(em * 9)
        _, self.space_index = imgui.combo("Latent space", self.space_index, list(SPACE_LABELS))
        _, self.pti = imgui.checkbox("Pivotal tuning", self.pti)
        imgui.set_item_tooltip("Fine-tune a copy of the generator around the fitted latent (kept in memory "
                               "until you save it)")
        if self.pti:
            imgui.same_line()
            imgui.set_next_item_width(em * 6)
            changed, steps = imgui.input_int("PTI steps", self.pti_steps, 10, 50)
            if changed:
                self.pti_steps = min(max(steps, 1), 5000)
        _, self.camera_known = imgui.checkbox("Camera known: the current camera", self.camera_known)
        imgui.set_item_tooltip("Off: the camera is searched and fitted with the latent")
        _, self.start_current = imgui.checkbox("Start from the latent on screen", self.start_current)
        imgui.begin_disabled(self.running)
        if imgui.button("Invert"):
            self.start()
        imgui.end_disabled()
        if self.running:
            imgui.same_line()
            if imgui.button("Cancel##invert"):
                self.job.cancel()
            imgui.progress_bar(self.job.fraction, (-1, 0), self.job.status or "starting...")
        if self.last_message:
            hint(self.last_message)
        if self.tuned is not None:
            self._draw_tuned(em)

    def _draw_tuned(self, em: float) -> None:
        _, spec, source, _ = self.tuned
        shown = self.app.args.checkpoint == spec
        imgui.separator()
        imgui.text_wrapped(f"Tuned generator: in memory, not saved{' (on screen)' if shown else ''}")
        if not shown:
            if imgui.button("Show the tuned generator"):
                self.app.checkpoint.load(spec)
            imgui.same_line()
        if shown and imgui.button("Back to the original model"):
            self.app.checkpoint.load(source)
        imgui.set_next_item_width(-em * 5)
        _, self.save_path = imgui.input_text("##tuned", self.save_path)
        imgui.same_line()
        imgui.begin_disabled(self.save_job is not None)
        if imgui.button("Save##tuned"):
            self.save_tuned()
        imgui.end_disabled()
        hint("Empty path: a new tuned-NNNN.safetensors in the capture folder.")

    def _device(self):
        from next3d.utils.device import resolve_device

        return resolve_device(self.app.options.device, warn=lambda msg: None)

    def delete(self) -> None:
        self.tuned = None

    def persisted(self) -> dict:
        return widget_values(self, _PERSIST)

    def restore(self, saved: dict) -> None:
        restore_widget_values(self, _PERSIST, saved)
        self.space_index = min(max(int(self.space_index), 0), len(SPACES) - 1)
        self.steps = min(max(int(self.steps), 1), 5000)
        self.pti_steps = min(max(int(self.pti_steps), 1), 5000)
