"""A glfw window with an OpenGL 3.3 core context: sized to fit the monitor, HiDPI aware, clear failures.

Import order matters: imgui_bundle must be imported before glfw so that pyGLFW uses the glfw library that
imgui-bundle's own backend is linked against (one glfw state, not two).
"""

from __future__ import annotations

import os

import glfw
import imgui_bundle  # noqa: F401  (sets PYGLFW_LIBRARY before glfw loads)

NO_DISPLAY_HINT = ("run it under a virtual display: `xvfb-run -a python visualizer.py`, or use the headless "
                   "commands `python -m next3d render ...` / `python -m next3d video ...`")


class DisplayUnavailableError(RuntimeError):
    """No display or no usable OpenGL 3.3 context; the message names the fix."""


def check_display() -> None:
    """Raise DisplayUnavailableError at once when no display is configured (cheap: runs before heavy imports)."""
    if os.name == "posix" and not _is_macos() and not os.environ.get("DISPLAY") \
            and not os.environ.get("WAYLAND_DISPLAY"):
        raise DisplayUnavailableError(f"no display (DISPLAY is not set): {NO_DISPLAY_HINT}")


class GlfwWindow:
    """One top-level window with a current OpenGL 3.3 core-profile context.

    Sizes: `window_size` is in screen coordinates (what the OS and mouse events use), `framebuffer_size` in
    pixels; they differ on macOS Retina. `ui_scale` is how much to enlarge fonts and paddings.
    """

    def __init__(self, title: str, size: tuple[int, int] | None = None, pos: tuple[int, int] | None = None,
                 vsync: bool = True, visible: bool = True):
        self._glfw_errors: list[str] = []
        glfw.set_error_callback(lambda code, text: self._glfw_errors.append(
            text.decode(errors="replace") if isinstance(text, bytes) else str(text)))
        check_display()
        if not glfw.init():
            raise DisplayUnavailableError(f"cannot open the display ({self._last_error()}): {NO_DISPLAY_HINT}")
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        glfw.window_hint(glfw.SCALE_TO_MONITOR, True)
        glfw.window_hint(glfw.VISIBLE, bool(visible))
        work = self.monitor_work_area()
        width, height = fit_to_work_area(size or default_window_size(work), work)
        self.handle = glfw.create_window(width, height, title, None, None)
        if not self.handle:
            glfw.terminate()
            raise DisplayUnavailableError(
                f"cannot create an OpenGL 3.3 core-profile window ({self._last_error()}); update the graphics "
                f"driver or Mesa, or {NO_DISPLAY_HINT}")
        if pos is not None and _position_visible(pos, (width, height), work):
            glfw.set_window_pos(self.handle, int(pos[0]), int(pos[1]))
        glfw.make_context_current(self.handle)
        self.vsync = vsync
        glfw.swap_interval(1 if vsync else 0)

    def _last_error(self) -> str:
        return self._glfw_errors[-1] if self._glfw_errors else "unknown glfw error"

    @staticmethod
    def monitor_work_area() -> tuple[int, int, int, int]:
        """(x, y, width, height) of the primary monitor's usable area, in screen coordinates."""
        monitor = glfw.get_primary_monitor()
        if not monitor:
            return (0, 0, 1280, 800)
        x, y, w, h = glfw.get_monitor_workarea(monitor)
        if w <= 0 or h <= 0:
            mode = glfw.get_video_mode(monitor)
            w, h = mode.size.width, mode.size.height
        return (x, y, w, h)

    @property
    def window_size(self) -> tuple[int, int]:
        return tuple(glfw.get_window_size(self.handle))

    @property
    def window_pos(self) -> tuple[int, int]:
        return tuple(glfw.get_window_pos(self.handle))

    @property
    def framebuffer_size(self) -> tuple[int, int]:
        return tuple(glfw.get_framebuffer_size(self.handle))

    @property
    def pixel_ratio(self) -> float:
        """Framebuffer pixels per screen coordinate (2 on Retina, 1 on X11/Windows)."""
        win_w = max(1, self.window_size[0])
        return self.framebuffer_size[0] / win_w if self.framebuffer_size[0] else 1.0

    @property
    def ui_scale(self) -> float:
        """Factor for fonts and paddings in screen coordinates (see `ui_scale_for`)."""
        scale_x, _ = glfw.get_window_content_scale(self.handle)
        return ui_scale_for(scale_x, self.window_size[0], self.framebuffer_size[0])

    def set_vsync(self, on: bool) -> None:
        if on != self.vsync:
            self.vsync = on
            glfw.swap_interval(1 if on else 0)

    def should_close(self) -> bool:
        return bool(glfw.window_should_close(self.handle))

    def request_close(self) -> None:
        glfw.set_window_should_close(self.handle, True)

    def swap(self) -> None:
        glfw.swap_buffers(self.handle)

    def close(self) -> None:
        if self.handle:
            glfw.destroy_window(self.handle)
            self.handle = None
            glfw.terminate()


def ui_scale_for(content_scale: float, window_width: int, framebuffer_width: int) -> float:
    """The monitor's content scale not already provided by extra framebuffer pixels.

    macOS Retina: content scale 2 with a 2x framebuffer -> 1 (imgui renders at 2x by itself);
    Windows/X11 at 150%: content scale 1.5, framebuffer = window -> 1.5 (fonts and paddings grow).
    """
    pixel_ratio = framebuffer_width / window_width if window_width > 0 and framebuffer_width > 0 else 1.0
    return max(0.5, float(content_scale) / pixel_ratio)


def default_window_size(work_area: tuple[int, int, int, int]) -> tuple[int, int]:
    """A comfortable first size: 85% of the work area, at most 1920x1200."""
    return min(1920, int(work_area[2] * 0.85)), min(1200, int(work_area[3] * 0.85))


def fit_to_work_area(size: tuple[int, int], work_area: tuple[int, int, int, int]) -> tuple[int, int]:
    """Clamp a window size to the monitor's work area (never below 640x400 unless the screen is smaller)."""
    w = max(min(640, work_area[2]), min(int(size[0]), work_area[2]))
    h = max(min(400, work_area[3]), min(int(size[1]), work_area[3]))
    return w, h


def _position_visible(pos, size, work) -> bool:
    x, y = pos
    return work[0] - size[0] // 2 <= x < work[0] + work[2] - 50 and work[1] <= y < work[1] + work[3] - 50


def _is_macos() -> bool:
    import platform

    return platform.system() == "Darwin"
