"""A glfw window running Dear ImGui + ImPlot through imgui-bundle's native GLFW and OpenGL3 backends."""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path
from typing import Callable

import numpy as np
import OpenGL.GL as gl
from imgui_bundle import imgui, implot

from gui_utils.gl_texture import read_framebuffer
from gui_utils.window import GlfwWindow

log = logging.getLogger(__name__)

FONT_PATH = Path(__file__).resolve().parents[1] / "assets" / "fonts" / "DejaVuSans.ttf"
BASE_FONT_PX = 15.0  # at ui_scale 1
GLSL_VERSION = "#version 330"


class ImguiWindow(GlfwWindow):
    """Frames are `begin_frame()`, imgui calls, `end_frame()`. Layout sizes should be in `em` (font units)."""

    def __init__(self, title: str, size=None, pos=None, vsync: bool = True, ini_path: str | Path | None = None,
                 font_path: str | Path = FONT_PATH, visible: bool = True):
        super().__init__(title, size=size, pos=pos, vsync=vsync, visible=visible)
        self.imgui_context = imgui.create_context()
        self.implot_context = implot.create_context()
        io = imgui.get_io()
        io.set_ini_filename(str(ini_path) if ini_path else "")  # "" = no ini file
        io.config_flags |= imgui.ConfigFlags_.nav_enable_keyboard
        io.config_error_recovery_enable_tooltip = False
        address = ctypes.cast(self.handle, ctypes.c_void_p).value
        if not imgui.backends.glfw_init_for_opengl(address, True) or not imgui.backends.opengl3_init(GLSL_VERSION):
            raise RuntimeError("imgui backends failed to initialise on this OpenGL context")
        self.scale = self.ui_scale
        imgui.style_colors_dark()
        style = imgui.get_style()
        style.scale_all_sizes(self.scale)
        style.window_rounding = 0.0
        style.font_size_base = BASE_FONT_PX
        style.font_scale_dpi = self.scale
        self.font = self._load_font(Path(font_path))
        if self.font is not None:
            io.font_default = self.font
        self.last_frame: np.ndarray | None = None
        self._capture_requested = False
        self._input_queue: list[Callable[[imgui.IO], None]] = []

    def _load_font(self, path: Path):
        if not path.is_file():
            log.warning("UI font %s is missing; using Dear ImGui's built-in font", path)
            return None
        return imgui.get_io().fonts.add_font_from_file_ttf(str(path), BASE_FONT_PX)

    @property
    def font_size(self) -> float:
        """The UI font size in screen coordinates (1 em)."""
        return BASE_FONT_PX * self.scale

    def em(self, value: float = 1.0) -> float:
        return value * self.font_size

    def begin_frame(self) -> None:
        import glfw

        glfw.poll_events()
        imgui.backends.opengl3_new_frame()
        imgui.backends.glfw_new_frame()
        if self._input_queue:
            self._input_queue.pop(0)(imgui.get_io())
        imgui.new_frame()

    def queue_input(self, event: Callable[[imgui.IO], None]) -> None:
        """Feed a synthetic input event (e.g. `lambda io: io.add_mouse_button_event(0, True)`) to a later
        frame, one event per frame in order: scripted drags for tests and demos."""
        self._input_queue.append(event)

    def request_capture(self) -> None:
        """Keep a copy of the next finished frame's pixels in `last_frame`."""
        self._capture_requested = True

    def end_frame(self, clear_color=(0.08, 0.08, 0.09, 1.0)) -> None:
        imgui.render()
        width, height = self.framebuffer_size
        gl.glViewport(0, 0, width, height)
        gl.glClearColor(*clear_color)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        imgui.backends.opengl3_render_draw_data(imgui.get_draw_data())
        if self._capture_requested and width > 0 and height > 0:
            self.last_frame = read_framebuffer(width, height)
            self._capture_requested = False
        self.swap()

    def close(self) -> None:
        if getattr(self, "imgui_context", None) is not None:
            imgui.backends.opengl3_shutdown()
            imgui.backends.glfw_shutdown()
            implot.destroy_context(self.implot_context)
            imgui.destroy_context(self.imgui_context)
            self.imgui_context = None
        super().close()
