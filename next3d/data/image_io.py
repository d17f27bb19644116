"""Decoding and encoding dataset images: 8-bit RGB, square, PNG or JPEG.

Mode rule: RGB is used as is; grayscale (L, 1) is replicated to three channels; palette images are
expanded; an alpha channel (RGBA, LA, PA) is dropped (the colour under it is kept); CMYK/YCbCr are
converted. 16-bit and float images are refused: convert them to 8-bit RGB first.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

CONVERTIBLE_MODES = {"RGB", "RGBA", "RGBX", "L", "LA", "1", "P", "PA", "CMYK", "YCbCr"}
PNG_COMPRESS_LEVEL = 4  # a good size/speed balance for large synthetic datasets


@dataclass(frozen=True)
class ImageHeader:
    """What the file header says, without decoding pixels."""

    width: int
    height: int
    mode: str
    format: str


def read_header(fileobj) -> tuple[ImageHeader | None, str | None]:
    """The image header of an open binary file, or (None, why it is not a usable image)."""
    try:
        with Image.open(fileobj) as img:
            header = ImageHeader(img.width, img.height, img.mode, img.format or "?")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        return None, f"not a readable PNG/JPEG image ({_short(exc)})"
    return header, header_problem(header)


def header_problem(header: ImageHeader) -> str | None:
    """Why an image with this header cannot be used, or None."""
    if header.format not in ("PNG", "JPEG"):
        return f"is a {header.format} image; datasets hold PNG or JPEG"
    if header.mode not in CONVERTIBLE_MODES:
        return f"has pixel mode {header.mode} (16-bit or float); convert it to 8-bit RGB"
    if header.width != header.height:
        return f"is {header.width}x{header.height}, not square; crop it to a square first"
    return None


def decode_image(data: bytes, resolution: int | None = None) -> np.ndarray:
    """Pixels (H, W, 3) uint8 from PNG/JPEG bytes, resized to `resolution` (Lanczos) when it differs.

    Raises ValueError with the reason when the bytes are not a usable image.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            problem = header_problem(ImageHeader(img.width, img.height, img.mode, img.format or "?"))
            if problem:
                raise ValueError(problem)
            img.load()
            rgb = to_rgb(img)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"corrupt or unreadable image ({_short(exc)})") from None
    if resolution is not None and rgb.width != resolution:
        rgb = rgb.resize((resolution, resolution), Image.Resampling.LANCZOS)
    return np.array(rgb, dtype=np.uint8)  # a writable copy


def to_rgb(img: Image.Image) -> Image.Image:
    """Apply the mode rule of this module (alpha dropped, gray replicated, palette expanded)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    return img.convert("RGB")


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of (H, W, 3) uint8 pixels (deterministic: same pixels -> same bytes)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels), "RGB").save(buffer, format="PNG",
                                                               compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."
