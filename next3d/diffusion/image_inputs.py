"""Reading user images for guidance and conditioning: RGB as (1, 3, H, W) in [-1, 1], masks as (1, 1, H, W)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from next3d.errors import BadInputError


def load_rgb(path: str | Path, size: int | None = None) -> torch.Tensor:
    """An image file as (1, 3, H, W) in [-1, 1], resized (bicubic) to size x size when given."""
    image = _open(path).convert("RGB")
    if size is not None and image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    return pixels / 127.5 - 1


def load_mask(path: str | Path, size: int | None = None) -> torch.Tensor:
    """A mask image (white = 1, black = 0; colour images are converted to gray) as (1, 1, H, W)."""
    image = _open(path).convert("L")
    if size is not None and image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)[None, None]


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    pixels = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).cpu().numpy()


def _open(path: str | Path) -> Image.Image:
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInputError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable image ({exc})") from None
