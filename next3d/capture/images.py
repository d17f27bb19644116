"""Turning generator tensors into pictures: RGB conversion, colour maps, feature maps, and overlay drawing.

All functions return (H, W, 3) uint8 numpy images; inputs are torch tensors or numpy arrays without batch.
"""

from __future__ import annotations

import numpy as np
import torch

# A perceptually ordered dark-blue -> teal -> yellow ramp (own stops), for depth.
_RAMP = np.array([[13, 8, 135], [45, 90, 170], [33, 145, 140], [94, 201, 98], [220, 227, 60], [253, 231, 37]],
                 dtype=np.float32)
BACKGROUND = np.array([24, 24, 28], dtype=np.uint8)


def signed_to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    image = image.detach().float().clamp(-1, 1)
    return to_host(((image + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).contiguous())


def to_host(tensor: torch.Tensor) -> np.ndarray:
    """A tensor's values as a numpy array; from a GPU through page-locked memory (a direct DMA copy, several times
    faster than from pageable memory for a frame-sized picture). The array owns its page-locked buffer."""
    if tensor.device.type != "cuda":
        return tensor.cpu().numpy()
    host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    host.copy_(tensor, non_blocking=True)
    torch.cuda.current_stream(tensor.device).synchronize()
    return host.numpy()


def gray_to_uint8(values: torch.Tensor) -> np.ndarray:
    """(1, H, W) or (H, W) in [0, 1] -> (H, W, 3) uint8 gray."""
    values = values.detach().float().reshape(values.shape[-2:]).clamp(0, 1)
    gray = (values * 255).round().to(torch.uint8).cpu().numpy()
    return np.repeat(gray[..., None], 3, axis=2)


def colorize(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map (H, W) values to the colour ramp, `lo` -> first stop, `hi` -> last (clamped)."""
    t = np.clip((values - lo) / max(hi - lo, 1e-8), 0.0, 1.0) * (len(_RAMP) - 1)
    i = np.minimum(np.floor(t).astype(np.int64), len(_RAMP) - 2)
    f = (t - i)[..., None]
    return np.round(_RAMP[i] * (1 - f) + _RAMP[i + 1] * f).astype(np.uint8)


def depth_to_uint8(depth: torch.Tensor, alpha: torch.Tensor | None = None) -> np.ndarray:
    """(1, h, w) depth -> colour image: near = yellow, far = blue; pixels with less than half the picture's
    largest opacity are background (relative, so untrained models with faint density still show depth).

    The range is the 1st..99th percentile of the covered pixels, so a few stray samples do not flatten it.
    """
    d = depth.detach().float().reshape(depth.shape[-2:]).cpu().numpy()
    if alpha is None:
        covered = np.ones_like(d, dtype=bool)
    else:
        a = alpha.detach().float().reshape(alpha.shape[-2:]).cpu().numpy()
        covered = a >= 0.5 * a.max()
    if not covered.any() or not np.isfinite(d[covered]).any():
        return np.broadcast_to(BACKGROUND, d.shape + (3,)).copy()
    lo, hi = np.percentile(d[covered & np.isfinite(d)], [1, 99])
    rgb = colorize(np.nan_to_num(hi - d + lo, nan=lo), lo, hi)  # flipped so that near is bright
    rgb[~covered] = BACKGROUND
    return rgb


def features_to_uint8(features: torch.Tensor) -> np.ndarray:
    """(C, H, W) features -> RGB: the three principal components over all pixels, each spread to 1..99%."""
    f = features.detach().float()
    c, h, w = f.shape
    flat = f.reshape(c, -1).T  # (N, C)
    flat = flat - flat.mean(0, keepdim=True)
    if c <= 3:
        comps = flat
    else:
        # eigenvectors of the C x C covariance: cheaper and deterministic compared with an SVD of N x C
        cov = flat.T @ flat / max(flat.shape[0] - 1, 1)
        _, vecs = torch.linalg.eigh(cov.double())
        basis = vecs[:, -3:].flip(1).float()
        signs = torch.sign(basis.sum(0))  # fix each component's sign so colours do not flip between frames
        comps = flat @ (basis * torch.where(signs == 0, torch.ones_like(signs), signs))
    if comps.shape[1] < 3:
        comps = torch.cat([comps, comps.new_zeros(comps.shape[0], 3 - comps.shape[1])], dim=1)
    comps = comps.cpu().numpy()
    lo, hi = np.percentile(comps, 1, axis=0), np.percentile(comps, 99, axis=0)
    rgb = np.clip((comps - lo) / np.maximum(hi - lo, 1e-8), 0, 1)
    return np.round(rgb * 255).astype(np.uint8).reshape(h, w, 3)


def planes_to_uint8(planes: torch.Tensor) -> np.ndarray:
    """(3, C, P, P) tri-planes -> the three planes side by side, coloured with one shared PCA basis."""
    n, c, p, q = planes.shape
    joined = planes.detach().float().permute(1, 2, 0, 3).reshape(c, p, n * q)  # planes next to each other
    rgb = features_to_uint8(joined)
    rgb[:, q::q] = 255  # a white line between planes
    return rgb


def upscale_nearest(image: np.ndarray, min_size: int) -> np.ndarray:
    """Repeat pixels by an integer factor so the shorter side is at least `min_size`."""
    factor = int(np.ceil(min_size / max(1, min(image.shape[:2]))))
    if factor <= 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def draw_points(image: np.ndarray, xy: np.ndarray, color, radius: int = 1) -> np.ndarray:
    """Draw filled squares of side 2 radius + 1 at pixel coordinates `xy` (N, 2) (x = column), in place."""
    h, w = image.shape[:2]
    pts = np.round(np.asarray(xy, dtype=np.float64)).astype(np.int64)
    offsets = np.arange(-radius, radius + 1)
    dx, dy = np.meshgrid(offsets, offsets)
    xs = (pts[:, 0:1] + dx.reshape(1, -1)).ravel()
    ys = (pts[:, 1:2] + dy.reshape(1, -1)).ravel()
    keep = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    image[ys[keep], xs[keep]] = np.asarray(color, dtype=np.uint8)
    return image


def draw_segments(image: np.ndarray, a: np.ndarray, b: np.ndarray, color, alpha: float = 1.0) -> np.ndarray:
    """Draw line segments a[i] -> b[i] (pixel coordinates, (N, 2)) one pixel wide, blended by `alpha`, in place."""
    h, w = image.shape[:2]
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) == 0:
        return image
    steps = np.maximum(np.ceil(np.abs(b - a).max(axis=1)), 1).astype(np.int64)
    seg = np.repeat(np.arange(len(a)), steps + 1)
    first = np.repeat(np.cumsum(steps + 1) - (steps + 1), steps + 1)  # index of each segment's first point
    t = (np.arange(len(seg)) - first) / np.repeat(steps, steps + 1)
    pts = np.round(a[seg] + (b[seg] - a[seg]) * t[:, None]).astype(np.int64)
    keep = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    xs, ys = pts[keep, 0], pts[keep, 1]
    col = np.asarray(color, dtype=np.float32)
    image[ys, xs] = np.round(image[ys, xs] * (1 - alpha) + col * alpha).astype(np.uint8)
    return image
