"""An RGB or RGBA texture for showing numpy images with imgui.image (OpenGL 3.3 core).

It needs only a current GL context (imgui is imported where the texture is handed to it), so the display
benchmark (tools/gpu/display_bench.py) times this same upload in a headless EGL context."""

from __future__ import annotations

import ctypes

import numpy as np
import OpenGL.GL as gl


class Texture:
    """A 2-D RGB8 or RGBA8 texture; `upload` reallocates only when the image size or channel count changes.

    With `stream` (the default) pictures go through a pixel buffer object: the CPU only copies the bytes into
    driver memory and the GPU converts them into the texture, instead of the driver converting RGB on the CPU
    (tools/gpu/display_bench.py times both)."""

    def __init__(self, smooth: bool = True, stream: bool = True):
        self.id = int(gl.glGenTextures(1))
        self.size: tuple[int, int] | None = None  # (width, height)
        self.channels = 3
        self.smooth = smooth
        self.stream = stream
        self._pbo = 0
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.id)
        for param in (gl.GL_TEXTURE_WRAP_S, gl.GL_TEXTURE_WRAP_T):
            gl.glTexParameteri(gl.GL_TEXTURE_2D, param, gl.GL_CLAMP_TO_EDGE)
        self._set_filter()

    def _set_filter(self) -> None:
        mode = gl.GL_LINEAR if self.smooth else gl.GL_NEAREST
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MIN_FILTER, mode)
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MAG_FILTER, mode)

    def upload(self, image: np.ndarray) -> None:
        """Copy an (H, W, 3) or (H, W, 4) uint8 image into the texture (row 0 = top of the picture)."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise ValueError(f"texture upload: expected (H, W, 3 or 4) uint8, got {image.shape}")
        h, w, channels = image.shape
        layout = gl.GL_RGB if channels == 3 else gl.GL_RGBA
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.id)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        if self.size != (w, h) or self.channels != channels:
            internal = gl.GL_RGB8 if channels == 3 else gl.GL_RGBA8
            gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, internal, w, h, 0, layout, gl.GL_UNSIGNED_BYTE, None)
            self.size, self.channels = (w, h), channels
        if not self.stream:
            gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, w, h, layout, gl.GL_UNSIGNED_BYTE, image)
            return
        if not self._pbo:
            self._pbo = int(gl.glGenBuffers(1))
        gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, self._pbo)
        gl.glBufferData(gl.GL_PIXEL_UNPACK_BUFFER, image.nbytes, image, gl.GL_STREAM_DRAW)  # a fresh store
        gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, w, h, layout, gl.GL_UNSIGNED_BYTE, ctypes.c_void_p(0))
        gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, 0)

    def set_smooth(self, smooth: bool) -> None:
        if smooth != self.smooth:
            self.smooth = smooth
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.id)
            self._set_filter()

    @property
    def ref(self):
        """The texture as imgui.image takes it (an `imgui.ImTextureRef`)."""
        from imgui_bundle import imgui

        return imgui.ImTextureRef(self.id)

    def delete(self) -> None:
        if self.id:
            gl.glDeleteTextures([self.id])
            self.id = 0
        if self._pbo:
            gl.glDeleteBuffers(1, [self._pbo])
            self._pbo = 0


def read_framebuffer(width: int, height: int) -> np.ndarray:
    """The current back buffer as an (H, W, 3) uint8 image, row 0 at the top (call before swapping)."""
    gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
    gl.glReadBuffer(gl.GL_BACK)
    data = gl.glReadPixels(0, 0, width, height, gl.GL_RGB, gl.GL_UNSIGNED_BYTE)
    return np.frombuffer(data, np.uint8).reshape(height, width, 3)[::-1].copy()
