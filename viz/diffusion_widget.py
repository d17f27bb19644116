"""Diffusion: load a latent diffusion prior (the shipped one opens with the shipped model), sample candidate
avatars (steps, seed, CFG, optional image guidance toward a target with a mask), show them as a strip of
thumbnails; clicking one makes its W+ latent the current avatar (stored as a content-addressed latent file)."""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui

from gui_utils.file_browser import FileBrowser
from gui_utils.imgui_utils import hint
from next3d.capture.latent_bank import SAMPLED, store_wplus
from next3d.capture.renderer import DEFAULT_CHECKPOINT, DEFAULT_PRIOR
from next3d.errors import Next3DError
from viz.app_state import restore_widget_values, widget_values
from viz.background_job import BackgroundJob
from viz.candidate_strip import CandidateStrip
from viz.diffusion_sampling import SamplingSettings, sample_candidates
from viz.guidance_panel import GuidancePanel
from viz.prior_match import PriorFit, generator_identity, prior_fit

_PERSIST = ("prior_path", "count", "steps", "seed", "eta", "cfg_scale")
MAX_CANDIDATES = 8
MAX_STEPS = 200


class DiffusionWidget:
    title = "Diffusion"
    default_open = False

    def __init__(self, app):
        self.app = app
        self.prior_path = ""           # what the path field holds
        self.prior = None              # the loaded LatentPrior
        self.prior_file: Path | None = None
        self.auto_loaded = False       # True: the shipped prior, opened because the shipped model is on screen
        self._loading_automatic = False
        self.fit: PriorFit | None = None
        self.fit_for = ""              # the model checkpoint `fit` was decided for
        self.count = 4
        self.steps = 25
        self.seed = 0
        self.eta = 0.0
        self.cfg_scale = 1.0
        self.guidance = GuidancePanel(app)
        self.strip = CandidateStrip()
        self.prior_job: BackgroundJob | None = None
        self.sample_job: BackgroundJob | None = None
        self._collected_job: BackgroundJob | None = None  # the finished sampling job already shown
        self.load_error = ""
        self.last_message = ""
        self.browser = FileBrowser("Open diffusion prior", (".safetensors",), pick_folders=True)

    # -- actions (also used by tests) ---------------------------------------------------------------------
    def load_prior(self, path: str, automatic: bool = False) -> BackgroundJob | None:
        """Load a prior file or run folder in the background and check it against the model on screen."""
        path = str(Path(path.strip()).expanduser()) if path.strip() else ""
        if not path:
            self.app.notify("diffusion prior: give a prior file or run folder")
            return None
        if self.prior_job is not None and not self.prior_job.finished:
            self.app.notify("diffusion prior: still loading the previous one")
            return None
        self.prior_path, self._loading_automatic = path, automatic
        spec, models, device = self._model_spec(), self.app.models, self._device()
        self.prior_job = BackgroundJob("load prior", lambda job: _load_and_check(job, path, None, spec, models, device))
        return self.prior_job

    def sample(self) -> BackgroundJob | None:
        """Start sampling candidates with the current settings (progress and cancel in the panel)."""
        if self.prior is None or self.fit is None or not self.fit.usable:
            self.app.notify(self.fit.message if self.fit is not None else "diffusion: load a prior first")
            return None
        if self.sample_job is not None and not self.sample_job.finished:
            return None
        view = self.app.args
        guidance = self.guidance.guidance(view) if self.guidance.enabled else None
        if self.guidance.enabled and guidance is None:
            return None
        settings = SamplingSettings(int(self.count), int(self.steps), int(self.seed), float(self.eta),
                                    float(self.cfg_scale) if self.prior.conditional else 1.0)
        prior, models, spec, device = self.prior, self.app.models, self.fit_for, self._device()

        def work(job):
            G = models.get(spec, device).generator
            return sample_candidates(job, G, prior, view, settings, guidance)

        self.last_message = ""
        self.sample_job = BackgroundJob("sample", work)
        return self.sample_job

    def cancel(self) -> None:
        if self.sample_job is not None:
            self.sample_job.cancel()

    def choose(self, index: int) -> Path | None:
        """Make candidate `index` the current avatar: its W+ goes into a latent file the Latent widget uses."""
        candidates = self.strip.candidates
        if candidates is None or not 0 <= index < len(candidates.seeds):
            return None
        if candidates.kind != "wplus":
            self.app.notify(f"{candidates.kind} candidates can be previewed but not made current: the renderer "
                            "works on W+ latents (use a W+ prior)")
            return None
        seed = candidates.seeds[index]
        guided = " guided" if candidates.guided else ""
        source = f"{SAMPLED}: prior {self.prior_file.name if self.prior_file else '?'}, seed {seed}{guided}"
        try:
            path = store_wplus(self.app.latent_dir, candidates.latents[index], source)
        except (Next3DError, OSError) as exc:
            self.app.notify(f"could not store the sampled latent: {exc}")
            return None
        self.strip.chosen = index
        self.app.latent.use_latent_file(str(path))
        return path

    # -- frame --------------------------------------------------------------------------------------------
    def __call__(self, show: bool) -> None:
        self._follow_model()
        self._collect_jobs()
        self.app.canvas_tool = self.guidance.tool if show and self.guidance.shows_mask else None
        if not show:
            self.guidance.tool.editing = False
            return
        self._draw()

    def _follow_model(self) -> None:
        """Open the shipped prior with the shipped model; re-check the loaded prior when the model changes."""
        model = self.app.model
        if model is None or model.checkpoint == self.fit_for or self._busy(self.prior_job):
            return
        self.fit_for = model.checkpoint
        if self.prior is None:
            if _is_default_model(model.checkpoint) and DEFAULT_PRIOR.is_file():
                self.load_prior(str(DEFAULT_PRIOR), automatic=True)
            return
        prior, path, spec, models, device = self.prior, str(self.prior_file), model.checkpoint, self.app.models, \
            self._device()
        self.prior_job = BackgroundJob("check prior",
                                       lambda job: _load_and_check(job, path, prior, spec, models, device))

    def _collect_jobs(self) -> None:
        job = self.prior_job
        if job is not None and job.finished:
            self.prior_job = None
            if job.error and job.name == "load prior":
                self.load_error = job.error   # the previous prior (if any) stays loaded
                self.app.notify(f"diffusion prior: {job.error}")
            elif job.error:
                self.fit = PriorFit(False, job.error)
                self.app.notify(f"diffusion prior: {job.error}")
            else:
                path, prior, fit, spec = job.result
                if job.name == "load prior":
                    self.auto_loaded = self._loading_automatic
                self.prior, self.prior_file, self.fit, self.fit_for = prior, Path(path), fit, spec
                self.load_error = ""
                if not fit.usable:
                    self.app.notify(fit.message)
        job = self.sample_job
        if job is not None and job.finished and self._collected_job is not job:
            self._collected_job = job
            if job.error:
                self.last_message = f"sampling failed: {job.error}"
                self.app.notify(self.last_message)
            elif job.result is None:
                self.last_message = f"sampling cancelled at {job.status or 'the start'}; nothing changed"
            else:
                self.strip.show(job.result)
                self.last_message = f"{len(job.result.seeds)} candidates (seeds {job.result.seeds[0]}-" \
                                    f"{job.result.seeds[-1]}); click one to make it the current avatar"

    def _draw(self) -> None:
        em = imgui.get_font_size()
        imgui.set_next_item_width(-em * 4.5)
        entered, self.prior_path = imgui.input_text("##prior", self.prior_path,
                                                    imgui.InputTextFlags_.enter_returns_true)
        if entered:
            self.load_prior(self.prior_path)
        imgui.same_line()
        if imgui.button("Load##prior"):
            self.load_prior(self.prior_path)
        if imgui.button("Browse...##prior"):
            self.browser.open(self.prior_path or None)
        if DEFAULT_PRIOR.is_file():
            imgui.same_line()
            if imgui.button("Shipped prior"):
                self.load_prior(str(DEFAULT_PRIOR))
        chosen = self.browser()
        if chosen is not None:
            self.load_prior(str(chosen))
        self._draw_prior_status()
        usable = self.prior is not None and self.fit is not None and self.fit.usable
        imgui.separator()
        imgui.set_next_item_width(em * 6)
        _, self.count = imgui.slider_int("Candidates", self.count, 1, MAX_CANDIDATES)
        imgui.same_line()
        imgui.set_next_item_width(em * 6)
        _, self.steps = imgui.slider_int("Steps", self.steps, 1, MAX_STEPS)
        imgui.set_next_item_width(em * 6)
        changed, seed = imgui.input_int("Seed##diffusion", self.seed)
        if changed:
            self.seed = max(0, seed)
        imgui.same_line()
        if imgui.button("Next seeds"):
            self.seed += int(self.count)
        imgui.set_next_item_width(em * 8)
        _, self.eta = imgui.slider_float("eta (0 = DDIM)", self.eta, 0.0, 1.0, "%.2f")
        conditional = self.prior is not None and self.prior.conditional
        imgui.begin_disabled(not conditional)
        imgui.set_next_item_width(em * 8)
        _, self.cfg_scale = imgui.slider_float("CFG scale", self.cfg_scale, 0.0, 10.0, "%.1f")
        imgui.end_disabled()
        if self.prior is not None and not conditional:
            imgui.set_item_tooltip("This prior is unconditional: classifier-free guidance needs a conditional prior")
        self.guidance.draw(conditional)
        running = self.sample_job is not None and not self.sample_job.finished
        imgui.begin_disabled(running or not usable)
        if imgui.button("Sample"):
            self.sample()
        imgui.end_disabled()
        if running:
            imgui.same_line()
            if imgui.button("Cancel##sampling"):
                self.cancel()
            job = self.sample_job
            imgui.progress_bar(job.fraction, (-1, 0), job.status or "starting...")
        if self.last_message:
            hint(self.last_message)
        clicked = self.strip()
        if clicked is not None:
            self.choose(clicked)

    def _draw_prior_status(self) -> None:
        if self._busy(self.prior_job):
            hint(f"{self.prior_job.name}: {self.prior_job.status or 'working'}...")
            return
        if self.load_error:
            _error_text(self.load_error)
        if self.prior is None:
            hint("No prior loaded. Train one with `python -m next3d save-samples` and `train-diffusion`, "
                 "or open the shipped one with the shipped model.")
            return
        cfg = self.prior.cfg
        kind = "conditional" if self.prior.conditional else "unconditional"
        auto = " (opened with the shipped model)" if self.auto_loaded else ""
        imgui.text_wrapped(f"{self.prior_file.name}{auto}: {cfg.latent_field} {cfg.latent_shape[0]} x "
                           f"{cfg.latent_shape[1]}, {kind}")
        if self.fit is not None:
            (hint if self.fit.usable else _error_text)(self.fit.message)

    # -- helpers ------------------------------------------------------------------------------------------
    def _model_spec(self) -> str:
        return self.app.model.checkpoint if self.app.model is not None else self.app.args.checkpoint

    def _device(self):
        from next3d.utils.device import resolve_device

        return resolve_device(self.app.options.device, warn=lambda msg: None)

    @staticmethod
    def _busy(job: BackgroundJob | None) -> bool:
        return job is not None and not job.finished

    def cancel_jobs(self) -> None:
        for job in (self.prior_job, self.sample_job):
            if job is not None:
                job.cancel()
                job.wait(5)

    def delete(self) -> None:
        self.strip.delete()
        self.guidance.delete()

    def persisted(self) -> dict:
        values = widget_values(self, _PERSIST)
        if self.auto_loaded:
            values["prior_path"] = ""  # the shipped prior reopens with the shipped model by itself
        return values

    def restore(self, saved: dict) -> None:
        restore_widget_values(self, _PERSIST, saved)
        self.count = min(max(int(self.count), 1), MAX_CANDIDATES)
        self.steps = min(max(int(self.steps), 1), MAX_STEPS)


def _load_and_check(job: BackgroundJob, path: str, prior, spec: str, models, device):
    """(path, prior, PriorFit, spec): the prior (loaded unless given) checked against generator `spec`."""
    from next3d.diffusion import LatentCodec, load_prior
    from next3d.diffusion.latent_codec import LATENT_KINDS

    if prior is None:
        job.progress(0, 2, "reading the prior")
        prior = load_prior(path, device=device)
    job.progress(1, 2, "checking it against the generator")
    G = models.get(spec, device).generator
    shape = LatentCodec(G, prior.cfg.latent_field).shape if prior.cfg.latent_field in LATENT_KINDS else None
    name = Path(path).name
    return path, prior, prior_fit(name, prior.cfg, shape, generator_identity(spec)), spec


def _error_text(text: str) -> None:
    imgui.push_style_color(imgui.Col_.text, (1.0, 0.45, 0.4, 1.0))
    imgui.text_wrapped(text)
    imgui.pop_style_color()


def _is_default_model(checkpoint: str) -> bool:
    try:
        return Path(checkpoint).resolve() == DEFAULT_CHECKPOINT.resolve()
    except (OSError, ValueError):
        return False
