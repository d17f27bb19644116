"""The visualizer application: a controls pane of widgets on the left, the rendered canvas on the right.

Per frame: take the newest render result, draw the canvas (and read drags on it), let each widget draw
itself and write its part of `RenderArgs`, then submit the args (a no-op when nothing changed).
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import glfw
import numpy as np
from imgui_bundle import imgui

from gui_utils.config_dir import user_config_dir
from gui_utils.gl_texture import Texture
from gui_utils.imgui_window import ImguiWindow
from next3d.capture.memory_models import MemoryModel
from next3d.capture.render_args import ModelFacts, RenderArgs, RenderResult
from next3d.capture.renderer import ModelCache, Renderer, default_checkpoint
from next3d.errors import BadInputError
from next3d.utils.device import resolve_device
from viz.app_state import STATE_FILE_NAME, load_app_state, save_app_state
from viz.async_renderer import AsyncRenderer
from viz.camera_widget import CameraWidget
from viz.canvas import Canvas
from viz.capture_widget import CaptureWidget
from viz.checkpoint_widget import CheckpointWidget
from viz.diffusion_widget import DiffusionWidget
from viz.expression_widget import ExpressionWidget
from viz.invert_widget import InvertWidget
from viz.latent_widget import LatentWidget
from viz.performance_widget import PerformanceWidget
from viz.render_type_widget import RenderTypeWidget

log = logging.getLogger("next3d.viz")

PANE_WIDTH_EM = 24.0
HISTORY = 240  # frames of timing history for the performance plots


@dataclass
class AppOptions:
    checkpoint: str | None = None          # None: the shipped default model (recent ones are one click away)
    config_dir: Path = field(default_factory=user_config_dir)
    use_process: bool | None = None        # None: the saved choice (default: default_use_process(device))
    vsync: bool | None = None
    restore: bool = True                   # restore the last session's widget values
    device: str = "auto"
    window_size: tuple[int, int] | None = None


def default_use_process(device: str = "auto") -> bool:
    """Render in a worker process on the CPU, where a slow render would otherwise stall the GUI's Python thread,
    and in a thread on a GPU, where the render mostly waits on the GPU and the picture skips the hop between
    processes (on the H100 the thread meets the frame-time targets, the process does not: docs/performance.md)."""
    try:
        return resolve_device(device, warn=lambda _msg: None).type != "cuda"
    except BadInputError:  # a bad --device: the renderer reports it on the canvas; render safely off the GUI
        return True


def make_renderer(device: str = "auto", models: ModelCache | None = None) -> Renderer:
    """Top-level factory (picklable, so a spawned worker process can build its own renderer)."""
    return Renderer(device=device, models=models)


class App:
    """Owns the window, the widgets, the async renderer and the persisted state. `step()` draws one frame."""

    def __init__(self, options: AppOptions | None = None, window: ImguiWindow | None = None):
        self.options = options or AppOptions()
        self.config_dir = Path(self.options.config_dir)
        self.state_path = self.config_dir / STATE_FILE_NAME
        self.latent_dir = self.config_dir / "latents"  # sampled and inverted W+ latents (content-addressed)
        self.saved = load_app_state(self.state_path) if self.options.restore else {}
        self.config_dir.mkdir(parents=True, exist_ok=True)
        geometry = self.saved.get("window", {}) if isinstance(self.saved.get("window"), dict) else {}
        self.window = window or ImguiWindow(
            "Next3D Studio", size=self.options.window_size or _pair(geometry.get("size")),
            pos=_pair(geometry.get("pos")), vsync=bool(self._choice("vsync", True)),
            ini_path=self.config_dir / "imgui.ini")
        self.args = RenderArgs()
        self.result: RenderResult | None = None    # newest result received
        self.image_result: RenderResult | None = None  # newest result with a picture (shown under errors)
        self.model: ModelFacts | None = None
        self.error = ""
        self._logged_errors: set[str] = set()
        self.frame_index = 0
        self.gui_ms: deque[float] = deque(maxlen=HISTORY)
        self.render_ms: deque[float] = deque(maxlen=HISTORY)
        self.fps_limit = 60
        self.models = ModelCache()
        # In a worker process the cache arrives empty (ModelCache pickles without its models); in a thread the
        # live renderer and capture jobs share the loaded model.
        self.renderer = AsyncRenderer(functools.partial(make_renderer, self.options.device, self.models),
                                      use_process=bool(self._choice("use_process",
                                                                    default_use_process(self.options.device))))
        self.texture = Texture()
        self.pane_width = 0.0
        self.canvas_tool = None  # a widget's tool that takes left drags on the picture (e.g. the mask editor)
        self.checkpoint = CheckpointWidget(self, self.options.checkpoint or default_checkpoint())
        self.latent = LatentWidget(self)
        self.camera = CameraWidget(self)
        self.expression = ExpressionWidget(self)
        self.render_type = RenderTypeWidget(self)
        self.performance = PerformanceWidget(self)
        self.capture = CaptureWidget(self)
        self.diffusion = DiffusionWidget(self)
        self.invert = InvertWidget(self)
        self.widgets = [self.checkpoint, self.latent, self.camera, self.expression, self.render_type,
                        self.performance, self.capture, self.diffusion, self.invert]
        self.canvas = Canvas(self)
        self.open_headers = {w.title: w.default_open for w in self.widgets}
        if self.options.restore:
            self._restore_widgets()
        glfw.set_drop_callback(self.window.handle, self._on_drop)
        self._last_step = time.perf_counter()

    # -- setup helpers ------------------------------------------------------------------------------------
    def _choice(self, name: str, default):
        explicit = getattr(self.options, name)
        if explicit is not None:
            return explicit
        value = self.saved.get("performance", {}).get(name) if isinstance(self.saved.get("performance"), dict) \
            else None
        return value if isinstance(value, type(default)) else default

    def _restore_widgets(self) -> None:
        values = self.saved.get("widgets", {})
        headers = self.saved.get("open_headers", {})
        for widget in self.widgets:
            if isinstance(values, dict) and widget.title in values:
                widget.restore(values[widget.title])
            if isinstance(headers, dict) and isinstance(headers.get(widget.title), bool):
                self.open_headers[widget.title] = headers[widget.title]

    def save_state(self) -> None:
        """Write window geometry, recent checkpoints and widget values to the config dir (atomically)."""
        performance = {"vsync": self.window.vsync}
        if self.renderer.use_process != default_use_process(self.options.device):
            performance["use_process"] = self.renderer.use_process  # only a choice; the default follows the machine
        doc = {
            "window": {"size": list(self.window.window_size), "pos": list(self.window.window_pos)},
            "widgets": {w.title: w.persisted() for w in self.widgets},
            "open_headers": dict(self.open_headers),
            "performance": performance,
        }
        save_app_state(self.state_path, doc)

    # -- frame --------------------------------------------------------------------------------------------
    def update_args(self, **changes) -> None:
        """Called by widgets every frame with their part of the frame's args."""
        self.args = self.args.with_(**changes)

    def step(self) -> None:
        """Draw one frame."""
        start = time.perf_counter()
        self.window.begin_frame()
        self._receive()
        em = self.window.em
        width, height = self.window.window_size
        flags = (imgui.WindowFlags_.no_move | imgui.WindowFlags_.no_collapse | imgui.WindowFlags_.no_title_bar
                 | imgui.WindowFlags_.no_bring_to_front_on_focus)
        imgui.set_next_window_pos((0, 0))
        imgui.set_next_window_size((em(PANE_WIDTH_EM), height), imgui.Cond_.first_use_ever)
        imgui.set_next_window_size_constraints((em(14), height), (max(em(14), width - em(10)), height))
        imgui.begin("Controls", None, flags)
        self.pane_width = imgui.get_window_width()
        for widget in self.widgets:
            imgui.set_next_item_open(self.open_headers.get(widget.title, False), imgui.Cond_.once)
            expanded = imgui.collapsing_header(widget.title)
            self.open_headers[widget.title] = expanded
            imgui.push_id(widget.title)
            self._guarded(widget.title, widget, expanded)
            imgui.pop_id()
        imgui.end()
        self._guarded("canvas", self.canvas, (self.pane_width, 0), (max(1.0, width - self.pane_width), height))
        self.renderer.submit(self.args)
        self.window.end_frame()
        now = time.perf_counter()
        self.gui_ms.append((now - start) * 1e3)
        self._last_step = now
        self.frame_index += 1

    def _guarded(self, name: str, draw, *args) -> None:
        """Run one widget's frame; an exception is logged once and shown, and imgui's stacks are repaired."""
        saved = imgui.internal.ErrorRecoveryState()
        imgui.internal.error_recovery_store_state(saved)
        try:
            draw(*args)
        except Exception as exc:  # noqa: BLE001 - a widget bug must not close the app
            io = imgui.get_io()
            io.config_error_recovery_enable_assert = False
            imgui.internal.error_recovery_try_to_recover_state(saved)
            io.config_error_recovery_enable_assert = True
            text = f"{name}: {type(exc).__name__}: {exc}"
            if text not in self._logged_errors:
                self._logged_errors.add(text)
                log.exception("widget %s failed", name)
                self.canvas.show_message(f"internal error in {text} (see the log)")

    def _receive(self) -> None:
        result = self.renderer.poll()
        if result is None:
            return
        self.result = result
        self.render_ms.append(result.total_ms)
        if result.model is not None:
            self.model = result.model
        self.error = result.error
        if result.error:
            if result.error not in self._logged_errors:
                self._logged_errors.add(result.error)
                log.error("render error: %s", result.error)
        elif result.image is not None:
            self.image_result = result
            self.texture.upload(result.image)
        self.checkpoint.on_result(result)

    def run(self, max_frames: int | None = None) -> None:
        """The interactive loop: frames until the window closes (or `max_frames`), at most `fps_limit` per second."""
        try:
            while not self.window.should_close() and (max_frames is None or self.frame_index < max_frames):
                frame_start = time.perf_counter()
                self.step()
                budget = 1.0 / max(1, self.fps_limit) - (time.perf_counter() - frame_start)
                if budget > 0:
                    time.sleep(budget)
        finally:
            self.save_state()

    # -- testing and scripting ----------------------------------------------------------------------------
    def render_until_idle(self, max_frames: int = 2000, timeout_s: float = 120.0) -> int:
        """Step frames until the newest request has its result (animations should be off); returns frames used."""
        deadline = time.monotonic() + timeout_s
        for frame in range(1, max_frames + 1):
            self.step()
            if not self.renderer.pending and self.result is not None and \
                    self.result.stamp == self.renderer.submitted_stamp:
                return frame
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
        raise TimeoutError(f"no render result after {max_frames} frames / {timeout_s:.0f} s")

    def screenshot(self) -> np.ndarray:
        """Draw one frame and return the whole window's pixels (H, W, 3) uint8."""
        self.window.request_capture()
        self.step()
        return self.window.last_frame

    def canvas_pixels(self, frame: np.ndarray) -> np.ndarray:
        """The canvas part of a screenshot (framebuffer pixels)."""
        (x0, y0), (x1, y1) = self.canvas.framebuffer_rect()
        return frame[y0:y1, x0:x1]

    def _on_drop(self, _window, paths) -> None:
        for path in paths:
            self.open_path(path)

    def open_path(self, path: str) -> None:
        """Open a dropped/given file by kind: checkpoint or run dir, view state, latent, expression sequence."""
        p = Path(path)
        if p.is_dir() or p.suffix.lower() == ".safetensors":
            self.checkpoint.load(str(p))
        elif p.suffix.lower() == ".json":
            self.capture.load_state(str(p))
        elif p.suffix.lower() == ".npz":
            members = _npz_members(p)
            if "state_json.npy" in members:
                self.capture.load_state(str(p))
            elif "w.npy" in members or "z.npy" in members:
                self.latent.use_latent_file(str(p))
            else:
                self.expression.load_sequence(str(p))
        else:
            self.notify(f"{p.name}: not a checkpoint (.safetensors or run folder), state (.json/.npz), latent "
                        "(.npz with w or z) or expression sequence (.npz)")

    def use_memory_model(self, model: MemoryModel) -> None:
        """Register an in-memory generator (replacing the previous one) and show it."""
        self.models.register(model)
        self.renderer.add_model(model)
        self.checkpoint.load(model.spec)

    def notify(self, message: str, error: bool = True) -> None:
        """A message for the user, shown in the canvas for a few seconds (and logged)."""
        (log.error if error else log.info)("%s", message)
        self.canvas.show_message(message, error)

    def close(self) -> None:
        self.save_state()
        self.capture.cancel_job()
        self.diffusion.cancel_jobs()
        self.invert.cancel_job()
        self.renderer.close()
        self.diffusion.delete()
        self.invert.delete()
        self.canvas.delete()
        self.texture.delete()
        self.window.close()


def _pair(value):
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None


def _npz_members(path: Path) -> list[str]:
    """The array files inside an .npz ([] when it is not a readable zip)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (OSError, zipfile.BadZipFile):
        return []
