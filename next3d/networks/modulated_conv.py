"""StyleGAN2 modulated convolution: per-sample input scaling by styles, then weight demodulation.

Two paths compute the same function:
- fused: build one (O, I, k, k) kernel per sample and run a single grouped convolution (fast at inference);
- plain: scale the activations by the styles, convolve with the shared kernel, scale by the
  demodulation coefficients (cheaper gradients, used while training).
"""

from __future__ import annotations

import math

import torch

from next3d.networks.ops.conv2d_resample import conv2d_resample


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = True,
) -> torch.Tensor:
    """Convolve x (B, I, H, W) with weight (O, I, k, k) modulated by styles (B, I); add noise after demodulation.

    `noise` broadcasts against the output (B, O, H', W'): (B, 1, H', W') or (H', W').
    """
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if styles.shape != (batch, in_channels):
        raise ValueError(f"styles must be ({batch}, {in_channels}), got {tuple(styles.shape)}")

    if x.dtype == torch.float16 and demodulate:
        # Demodulation makes the result invariant to these scales; they keep fp16 products in range.
        weight = weight * (1 / math.sqrt(in_channels * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    dcoefs = None
    if demodulate or fused_modconv:
        w = weight.unsqueeze(0) * styles.reshape(batch, 1, in_channels, 1, 1)  # (B, O, I, k, k)
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # (B, O)

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(batch, in_channels, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), resample_filter, up=up, down=down, padding=padding, flip_weight=flip_weight)
        if dcoefs is not None:
            x = x * dcoefs.to(x.dtype).reshape(batch, out_channels, 1, 1)
        if noise is not None:
            x = x + noise.to(x.dtype)
        return x

    if dcoefs is not None:
        w = w * dcoefs.reshape(batch, out_channels, 1, 1, 1)
    x = x.reshape(1, batch * in_channels, *x.shape[2:])
    w = w.reshape(batch * out_channels, in_channels, kh, kw)
    x = conv2d_resample(x, w.to(x.dtype), resample_filter, up=up, down=down, padding=padding, groups=batch, flip_weight=flip_weight)
    x = x.reshape(batch, out_channels, *x.shape[2:])
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x
