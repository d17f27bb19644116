"""Performance: GUI and render time plots (implot), fps limit, vsync, worker process, precision, stage cache."""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui, implot

from gui_utils.imgui_utils import hint
from next3d.capture.render_args import PRECISIONS

PRECISION_LABELS = ["fp32 (exact)", "fast (GPU: graphs + kernels)", "fastest (compiles first)"]  # per PRECISIONS
from viz.app_state import restore_widget_values, widget_values

_PERSIST = ("fps_limit", "precision_index", "stage_cache")


class PerformanceWidget:
    title = "Performance"
    default_open = False

    def __init__(self, app):
        self.app = app
        self.fps_limit = 60
        # fast by default: on a GPU ~3x the fp32 frame rate within 3 uint8 levels of it
        # (tests/test_capture_renderer_gpu.py); on the CPU it is the fp32 path itself
        self.precision_index = PRECISIONS.index("fast")
        self.stage_cache = True

    def __call__(self, show: bool) -> None:
        self.app.fps_limit = self.fps_limit
        if show:
            self._draw()
        self.app.update_args(precision=PRECISIONS[self.precision_index], stage_cache=self.stage_cache)

    def _draw(self) -> None:
        em = imgui.get_font_size()
        gui = np.asarray(self.app.gui_ms, dtype=np.float32)
        render = np.asarray(self.app.render_ms, dtype=np.float32)
        gui_mean = float(gui[-30:].mean()) if gui.size else 0.0
        render_last = float(render[-1]) if render.size else 0.0
        imgui.text(f"GUI {gui_mean:.1f} ms ({1000 / max(gui_mean, 1e-3):.0f} fps)   "
                   f"render {render_last:.0f} ms ({1000 / max(render_last, 1e-3):.1f} fps)")
        if implot.begin_plot("##timings", (-1, em * 8), implot.Flags_.no_menus | implot.Flags_.no_box_select):
            implot.setup_axes("frame", "ms", implot.AxisFlags_.no_tick_labels, implot.AxisFlags_.auto_fit)
            implot.setup_axis_limits(implot.ImAxis_.x1, 0, max(len(gui), 2), implot.Cond_.always)
            if gui.size:
                implot.plot_line("GUI", gui)
            if render.size:
                implot.plot_line("render", render)
            implot.end_plot()
        result = self.app.result
        if result is not None and not result.error:
            stages = ", ".join(f"{k} {v:.0f}" for k, v in result.stage_ms.items()) or "-"
            hint(f"mapping {result.mapping_ms:.0f} ms, stages (ms): {stages}, "
                                f"picture {result.display_ms:.0f} ms")
            hint(f"re-ran: {', '.join(result.stages_ran) or 'nothing (all cached)'}")
        imgui.set_next_item_width(em * 10)
        _, self.fps_limit = imgui.slider_int("FPS limit", self.fps_limit, 5, 240)
        changed, vsync = imgui.checkbox("Vertical sync", self.app.window.vsync)
        if changed:
            self.app.window.set_vsync(vsync)
        changed, use_process = imgui.checkbox("Render in a worker process", self.app.renderer.use_process)
        if changed:
            self.app.renderer.set_use_process(use_process)
        imgui.set_item_tooltip("A separate process keeps the GUI smooth during slow (CPU) renders; a thread is faster "
                               "on a GPU (no copy between processes). Default: thread on a GPU, process on the CPU")
        imgui.set_next_item_width(em * 10)
        _, self.precision_index = imgui.combo("Precision", self.precision_index, PRECISION_LABELS)
        imgui.set_item_tooltip("fast: CUDA graphs, Triton kernels and TF32 on a GPU (same as fp32 on the CPU); "
                               "fastest: also torch.compile and fp16: its first frame compiles for minutes")
        _, self.stage_cache = imgui.checkbox("Stage cache", self.stage_cache)
        imgui.set_item_tooltip("Re-run only the stages whose inputs changed (camera-only moves skip the rest)")

    def persisted(self) -> dict:
        return widget_values(self, _PERSIST)

    def restore(self, saved: dict) -> None:
        restore_widget_values(self, _PERSIST, saved)
        self.fps_limit = min(max(int(self.fps_limit), 5), 240)
        self.precision_index = min(max(int(self.precision_index), 0), len(PRECISIONS) - 1)
