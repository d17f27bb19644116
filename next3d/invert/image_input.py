"""Reading the photo and its mask: decode, centre-crop to a square, resize to the generator's resolution, and a
cheap check that the centre of the picture holds some foreground (the head is expected there)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from next3d.errors import BadInputError

CENTRAL_FRACTION = 0.5  # side of the central box, as a fraction of the image, where a head is expected
MIN_CENTRAL_CONTRAST = 4.0 / 255.0  # std of the luminance (in [0, 1]) below which the centre counts as uniform


@dataclass
class TargetImage:
    """The photo as the generator sees it: (1, 3, R, R) in [-1, 1], mask (1, 1, R, R) in [0, 1], and what was
    done to it (one line each: crop, resize, mask source)."""

    image: torch.Tensor
    mask: torch.Tensor
    source: str
    notes: list[str] = field(default_factory=list)

    def to(self, device) -> TargetImage:
        return TargetImage(self.image.to(device), self.mask.to(device), self.source, list(self.notes))


def read_rgb(path: str | Path, what: str = "image") -> np.ndarray:
    """(H, W, 3) uint8 from any image file PIL can decode; clear errors for missing or non-image files."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path).expanduser()
    if not path.exists():
        raise BadInputError(f"{what} {path}: no such file")
    if not path.is_file():
        raise BadInputError(f"{what} {path}: not a file")
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except UnidentifiedImageError:
        raise BadInputError(f"{what} {path}: not an image file (PIL cannot identify it; use PNG or JPEG)") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInputError(f"{what} {path}: cannot decode the image ({exc})") from None
    array = np.asarray(rgb, dtype=np.uint8)
    if array.shape[0] < 8 or array.shape[1] < 8:
        raise BadInputError(f"{what} {path}: {array.shape[1]}x{array.shape[0]} pixels is too small to invert")
    return array


def square_resize(array: np.ndarray, resolution: int, where: str, notes: list[str] | None) -> np.ndarray:
    """Centre-crop (H, W, C) uint8 to a square, then resize to resolution x resolution (notes say what happened)."""
    from PIL import Image

    h, w = array.shape[:2]
    if h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        array = array[top:top + side, left:left + side]
        if notes is not None:
            notes.append(f"{where}: {w}x{h} is not square; centre-cropped to {side}x{side}")
    side = array.shape[0]
    if side != resolution:
        mode = "RGB" if array.shape[2] == 3 else "L"
        img = Image.fromarray(array if mode == "RGB" else array[..., 0], mode)
        img = img.resize((resolution, resolution), Image.Resampling.LANCZOS)
        array = np.asarray(img, dtype=np.uint8).reshape(resolution, resolution, -1)
        if notes is not None:
            notes.append(f"{where}: resized {side}x{side} -> {resolution}x{resolution} (the generator's resolution)")
    return array


def image_to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(array.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None].contiguous()


def load_target(image_path: str | Path, resolution: int, mask_path: str | Path | None = None,
                check_foreground: bool = True) -> TargetImage:
    """Photo (+ optional mask file, white = use) prepared for a generator of `resolution`."""
    notes: list[str] = []
    rgb = read_rgb(image_path, "image")
    image = image_to_tensor(square_resize(rgb, resolution, f"image {image_path}", notes))
    if mask_path is None:
        mask = torch.ones(1, 1, resolution, resolution)
    else:
        mask = load_mask(mask_path, rgb.shape[:2], resolution)
        notes.append(f"mask {mask_path}: {float(mask.mean()) * 100:.0f}% of the pixels are used")
    target = TargetImage(image, mask, str(image_path), notes)
    if check_foreground:
        check_head_foreground(target)
    return target


def load_mask(path: str | Path, photo_size: tuple[int, int], resolution: int) -> torch.Tensor:
    """(1, 1, R, R) in [0, 1] from a mask image of the photo's size (white = use, black = ignore)."""
    gray = read_rgb(path, "mask").astype(np.float32).mean(axis=2, keepdims=True)
    if gray.shape[:2] != tuple(photo_size):
        raise BadInputError(f"mask {path}: {gray.shape[1]}x{gray.shape[0]} pixels, but the image is "
                            f"{photo_size[1]}x{photo_size[0]}; the mask must have the image's size")
    mask = square_resize(np.round(gray).astype(np.uint8), resolution, f"mask {path}", None)
    mask = torch.from_numpy(mask.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    mask = torch.where(mask < 1.0 / 255.0, torch.zeros_like(mask), mask)  # resampling ringing is not 'use'
    if float(mask.sum()) < 1.0:
        raise BadInputError(f"mask {path}: no white pixels (white = use the pixel, black = ignore it)")
    return mask.contiguous()


def check_head_foreground(target: TargetImage) -> None:
    """Raise BadInputError when the central box (where a head is expected) is nearly uniform inside the mask.

    This only checks for structure, not for a face: a textured wall passes; a blank or flat picture does not."""
    res = target.image.shape[-1]
    lo, hi = int(res * (1 - CENTRAL_FRACTION) / 2), int(res * (1 + CENTRAL_FRACTION) / 2)
    luma = (target.image[0] * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0) * 0.5 + 0.5
    luma, mask = luma[lo:hi, lo:hi], target.mask[0, 0, lo:hi, lo:hi]
    weight = float(mask.sum())
    if weight < 1.0:
        raise BadInputError(f"image {target.source}: the mask leaves nothing of the image centre, where the head "
                            "is expected; no head-like foreground found")
    mean = float((luma * mask).sum()) / weight
    std = (float(((luma - mean) ** 2 * mask).sum()) / weight) ** 0.5
    if std < MIN_CENTRAL_CONTRAST:
        raise BadInputError(f"image {target.source}: the centre is nearly uniform (luminance std {std * 255:.1f}/255); "
                            "no head-like foreground found")
