"""FIR resampling of image batches: zero-insert upsampling, padding/cropping, filtering, decimation.

Semantics follow StyleGAN2's `upfirdn2d`: padding is given with respect to the upsampled image,
negative padding crops, pixels outside the image are zero, and `flip_filter=False` means a true
convolution (the filter is mirrored before the correlation that `conv2d` performs).
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F

from next3d.networks.ops import fir_kernel

Padding = int | Sequence[int]

# Whether `upfirdn2d` may use the Triton kernel (inference modes turn it on around their stages; see `use_kernel`).
_KERNEL_ENABLED: ContextVar[bool] = ContextVar("next3d_fir_kernel", default=False)


@contextlib.contextmanager
def use_kernel(enabled: bool = True) -> Iterator[None]:
    """Within this block, FIR resampling of CUDA tensors without autograd runs the Triton kernel
    (next3d/networks/ops/fir_kernel.py) where it applies; outside it, always the PyTorch reference."""
    token = _KERNEL_ENABLED.set(enabled)
    try:
        yield
    finally:
        _KERNEL_ENABLED.reset(token)


def setup_filter(
    taps: Sequence[float] | torch.Tensor | None,
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1.0,
    separable: bool | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Build a float32 FIR filter: 1-D taps become their outer product unless `separable` (default: >= 8 taps).

    `normalize` scales the taps to sum 1 (constant images keep their value); `gain` scales the signal.
    """
    f = torch.as_tensor(1.0 if taps is None else taps, dtype=torch.float32).clone()
    if f.ndim == 0:
        f = f.reshape(1)
    if f.ndim not in (1, 2) or f.numel() == 0:
        raise ValueError(f"FIR filter must have 1 or 2 dims and at least one tap, got shape {tuple(f.shape)}")
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f if device is None else f.to(device)


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    vx, vy = value
    return int(vx), int(vy)


def _pads(padding: Padding) -> tuple[int, int, int, int]:
    """(x_before, x_after, y_before, y_after) from an int, (x, y) or the 4-tuple."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        px, py = padding
        return px, px, py, py
    px0, px1, py0, py1 = padding
    return int(px0), int(px1), int(py0), int(py1)


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a FIR filter; 1-D filters are separable, so both equal the tap count."""
    if f is None:
        return 1, 1
    return int(f.shape[-1]), int(f.shape[0])


def _insert_zeros(x: torch.Tensor, up_x: int, up_y: int) -> torch.Tensor:
    """Follow every pixel with up-1 zeros along each axis.  # (B, C, H, W) -> (B, C, H*up_y, W*up_x)"""
    if up_x == 1 and up_y == 1:
        return x
    b, c, h, w = x.shape
    x = x.reshape(b, c, h, 1, w, 1)
    x = F.pad(x, [0, up_x - 1, 0, 0, 0, up_y - 1])
    return x.reshape(b, c, h * up_y, w * up_x)


def _depthwise_fir(x: torch.Tensor, f: torch.Tensor, stride_x: int, stride_y: int) -> torch.Tensor:
    """Correlate every channel with `f` (2-D, or 1-D applied along x then y), keeping every stride-th output."""
    channels = x.shape[1]
    f = f.to(x.dtype)
    if f.ndim == 2:
        kernel = f[None, None].expand(channels, 1, *f.shape)
        return F.conv2d(x, kernel, stride=(stride_y, stride_x), groups=channels)
    taps = f.shape[0]
    x = F.conv2d(x, f.reshape(1, 1, 1, taps).expand(channels, 1, 1, taps), stride=(1, stride_x), groups=channels)
    return F.conv2d(x, f.reshape(1, 1, taps, 1).expand(channels, 1, taps, 1), stride=(stride_y, 1), groups=channels)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int | Sequence[int] = 1,
    down: int | Sequence[int] = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative = crop), convolve with FIR `f`, keep every `down`-th pixel.

    `x` is (B, C, H, W); `f` is (fh, fw), (taps,) for separable, or None for identity.
    """
    up_x, up_y = _pair(up)
    down_x, down_y = _pair(down)
    px0, px1, py0, py1 = _pads(padding)
    if f is None:
        f = torch.ones(1, 1, dtype=torch.float32, device=x.device)
    f = f * (gain ** (f.ndim / 2))
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    if _KERNEL_ENABLED.get():
        taps = torch.outer(f, f) if f.ndim == 1 else f  # a separable filter as its 2-D equivalent
        if fir_kernel.supports(x, taps):
            if torch.is_autocast_enabled(x.device.type):  # as F.conv2d would under autocast
                x = x.to(torch.get_autocast_dtype(x.device.type))
            return fir_kernel.upfirdn2d_kernel(x, taps, up_x, up_y, down_x, down_y, px0, px1, py0, py1)
    x = _insert_zeros(x, up_x, up_y)
    x = F.pad(x, [px0, px1, py0, py1])
    return _depthwise_fir(x, f, down_x, down_y)


def filter2d(x: torch.Tensor, f: torch.Tensor | None, padding: Padding = 0, flip_filter: bool = False, gain: float = 1.0) -> torch.Tensor:
    """Filter with `f`, padded so the output keeps the input size (plus any extra `padding`)."""
    px0, px1, py0, py1 = _pads(padding)
    fw, fh = filter_size(f)
    pads = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=pads, flip_filter=flip_filter, gain=gain)


def upsample2d(
    x: torch.Tensor, f: torch.Tensor | None, up: int | Sequence[int] = 2, padding: Padding = 0, flip_filter: bool = False, gain: float = 1.0
) -> torch.Tensor:
    """Upsample by `up` with FIR interpolation; the output is exactly `up` times the input size."""
    up_x, up_y = _pair(up)
    px0, px1, py0, py1 = _pads(padding)
    fw, fh = filter_size(f)
    pads = [px0 + (fw + up_x - 1) // 2, px1 + (fw - up_x) // 2, py0 + (fh + up_y - 1) // 2, py1 + (fh - up_y) // 2]
    # Zero insertion divides the mean by up_x * up_y; the gain restores it.
    return upfirdn2d(x, f, up=(up_x, up_y), padding=pads, flip_filter=flip_filter, gain=gain * up_x * up_y)


def downsample2d(
    x: torch.Tensor, f: torch.Tensor | None, down: int | Sequence[int] = 2, padding: Padding = 0, flip_filter: bool = False, gain: float = 1.0
) -> torch.Tensor:
    """Low-pass with `f` then decimate by `down`; the output is exactly 1/`down` of the input size."""
    down_x, down_y = _pair(down)
    px0, px1, py0, py1 = _pads(padding)
    fw, fh = filter_size(f)
    pads = [px0 + (fw - down_x + 1) // 2, px1 + (fw - down_x) // 2, py0 + (fh - down_y + 1) // 2, py1 + (fh - down_y) // 2]
    return upfirdn2d(x, f, down=(down_x, down_y), padding=pads, flip_filter=flip_filter, gain=gain)
