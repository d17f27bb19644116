"""The visualizer's frame path end to end, down to the texture on the GPU: RenderArgs handed to the app's
AsyncRenderer (worker thread or process), the picture back on the GUI side, uploaded with the app's Texture.

Headless: an EGL pbuffer context stands in for the window (the upload is the same). Requests alternate as in
`bench frames`, so every frame re-runs exactly the intended stages. Two numbers per update kind: the latency (one
request in flight, request -> pixels in the texture) and the sustained interval between textures when, as in the
app's frame loop, the next request goes out before the last picture is uploaded.

    python3 tools/gpu/display_bench.py [checkpoint] [precision] [frames] [device]
    (default: builtin:paper-random fastest 50 cuda)

Needs PyOpenGL and an EGL driver (on the lent GPU machines: carry the libegl1/libopengl0/libglvnd0 packages).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from OpenGL import EGL  # noqa: E402
from OpenGL import GL as gl  # noqa: E402

from gui_utils.gl_texture import Texture  # noqa: E402
from next3d.capture.frame_bench import UPDATES  # noqa: E402
from next3d.capture.render_args import RenderArgs  # noqa: E402
from next3d.capture.renderer import Renderer  # noqa: E402
from viz.async_renderer import AsyncRenderer  # noqa: E402


def _ints(values: list[int]):
    return (EGL.EGLint * len(values))(*values)


def egl_context() -> str:
    """Make a headless OpenGL context current (pbuffer surface); returns the GL renderer string."""
    display = _initialized_display()
    config, count = EGL.EGLConfig(), EGL.EGLint()
    wanted = _ints([EGL.EGL_SURFACE_TYPE, EGL.EGL_PBUFFER_BIT, EGL.EGL_RENDERABLE_TYPE, EGL.EGL_OPENGL_BIT,
                    EGL.EGL_RED_SIZE, 8, EGL.EGL_GREEN_SIZE, 8, EGL.EGL_BLUE_SIZE, 8, EGL.EGL_NONE])
    if not EGL.eglChooseConfig(display, wanted, ctypes.pointer(config), 1, ctypes.pointer(count)) or count.value < 1:
        raise SystemExit("EGL: no pbuffer config with desktop OpenGL")
    surface = EGL.eglCreatePbufferSurface(display, config, _ints([EGL.EGL_WIDTH, 64, EGL.EGL_HEIGHT, 64,
                                                                  EGL.EGL_NONE]))
    EGL.eglBindAPI(EGL.EGL_OPENGL_API)
    context = EGL.eglCreateContext(display, config, EGL.EGL_NO_CONTEXT,
                                   _ints([EGL.EGL_CONTEXT_MAJOR_VERSION, 3, EGL.EGL_CONTEXT_MINOR_VERSION, 3,
                                          EGL.EGL_NONE]))
    if not EGL.eglMakeCurrent(display, surface, surface, context):
        raise SystemExit("EGL: could not make the context current")
    return gl.glGetString(gl.GL_RENDERER).decode()


def _initialized_display():
    """The default EGL display, else the first EGL device's (headless drivers often have only the latter)."""
    from OpenGL.EGL.EXT.device_enumeration import eglQueryDevicesEXT
    from OpenGL.EGL.EXT.platform_base import eglGetPlatformDisplayEXT
    from OpenGL.EGL.EXT.platform_device import EGL_PLATFORM_DEVICE_EXT

    major, minor = EGL.EGLint(), EGL.EGLint()
    candidates = [lambda: EGL.eglGetDisplay(EGL.EGL_DEFAULT_DISPLAY)]
    devices, count = (EGL.EGLDeviceEXT * 8)(), EGL.EGLint()
    try:
        if eglQueryDevicesEXT(8, devices, ctypes.pointer(count)):
            candidates += [functools.partial(eglGetPlatformDisplayEXT, EGL_PLATFORM_DEVICE_EXT, devices[k], None)
                           for k in range(count.value)]
    except Exception:  # noqa: BLE001 - no device enumeration: the default display is the only candidate
        pass
    for candidate in candidates:
        try:
            display = candidate()
            if display and EGL.eglInitialize(display, ctypes.pointer(major), ctypes.pointer(minor)):
                return display
        except Exception:  # noqa: BLE001 - PyOpenGL raises on EGL errors; try the next candidate
            continue
    raise SystemExit("EGL: no display could be initialized (is an EGL driver installed?)")


def _next_result(renderer: AsyncRenderer):
    """Poll until the worker hands back a result (as the GUI's frame loop would, between its own drawing)."""
    while (result := renderer.poll()) is None:
        time.sleep(0.0001)  # the GUI thread would be drawing; keep the GIL free for a thread worker
    return result


def measure(renderer: AsyncRenderer, texture: Texture, base: RenderArgs, change, frames: int, warmup: int = 5):
    """Per frame: (request -> picture on the GUI side ms, upload ms, request -> texture ms, stages ran)."""
    rows = []
    for i in range(warmup + frames):
        start = time.perf_counter()
        renderer.submit(base.with_(**change(i)), force=True)  # also when equal to the last kind's last frame
        result = _next_result(renderer)
        received = time.perf_counter()
        if result.error:
            raise SystemExit(f"render error: {result.error}")
        texture.upload(result.image)
        gl.glFinish()  # the pixels are in the texture
        done = time.perf_counter()
        if i >= warmup:
            rows.append(((received - start) * 1e3, (done - received) * 1e3, (done - start) * 1e3, result.stages_ran))
    return rows


def sustained_ms(renderer: AsyncRenderer, texture: Texture, base: RenderArgs, change, frames: int,
                 warmup: int = 5) -> float:
    """Median ms between pictures landing in the texture when, as in the app's frame loop, the next request is
    sent before the last picture is uploaded (the upload overlaps the next render)."""
    renderer.submit(base.with_(**change(0)), force=True)
    landed = []
    for i in range(1, warmup + frames + 2):
        result = _next_result(renderer)
        if result.error:
            raise SystemExit(f"render error: {result.error}")
        if i < warmup + frames + 1:
            renderer.submit(base.with_(**change(i)), force=True)
        texture.upload(result.image)
        gl.glFinish()
        landed.append(time.perf_counter())
    return float(np.median(np.diff(landed[warmup:]))) * 1e3


def upload_ms(size: int, channels: int, stream: bool, repeat: int = 50) -> float:
    """Median ms to upload one (size, size, channels) uint8 picture into a Texture and finish."""
    texture = Texture(stream=stream)
    images = [np.full((size, size, channels), k, np.uint8) for k in range(2)]
    times = []
    for k in range(repeat + 5):
        start = time.perf_counter()
        texture.upload(images[k % 2])
        gl.glFinish()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times[5:]))


def main(checkpoint: str = "builtin:paper-random", precision: str = "fastest", frames: str = "50",
         device: str = "cuda") -> None:
    print(f"GL renderer: {egl_context()}")
    for stream in (False, True):
        print(f"upload alone, {'pixel buffer' if stream else 'direct'} (ms): " + ", ".join(
            f"{size}^2 x {channels}: {upload_ms(size, channels, stream):.3f}" for size in (512, 1024)
            for channels in (3, 4)), flush=True)
    texture = Texture()
    base = RenderArgs(checkpoint=checkpoint, precision=precision, device=device)
    for worker in ("thread", "process"):  # the app's two worker modes (process is its default)
        renderer = AsyncRenderer(functools.partial(Renderer, device=device), use_process=worker == "process")
        try:
            for name, change in UPDATES.items():
                rows = measure(renderer, texture, base, change, int(frames))
                got, upload, total = (np.median([r[k] for r in rows]) for k in range(3))
                interval = sustained_ms(renderer, texture, base, change, int(frames))
                print(f"{checkpoint} {precision} {worker:7s} {name:11s} request->texture {total:6.2f} ms "
                      f"(p95 {np.percentile([r[2] for r in rows], 95):6.2f})  picture back {got:6.2f}  upload "
                      f"{upload:5.2f}  sustained {interval:6.2f} ms/frame ({1000 / interval:4.0f} frames/s)  "
                      f"stages {'+'.join(rows[-1][3])}", flush=True)
            if worker == "process":
                print(f"pictures through shared memory: {renderer.shared_pictures}", flush=True)
        finally:
            renderer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
