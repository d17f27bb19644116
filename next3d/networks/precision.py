"""Reduced-precision regions: which dtype a block computes in, and switching fp16 <-> bf16.

A block built with `use_fp16=True` (the official flag name, chosen by resolution) computes in its
`reduced_dtype`: float16 by default (the official choice, with conv clamping against overflow) or
bfloat16 (same range as float32, works on CPU too). float16 is only used on CUDA; on other devices
such a block falls back to float32, as the official code does.
"""

from __future__ import annotations

import torch

REDUCED_DTYPES = (torch.float16, torch.bfloat16)


def compute_dtype(use_fp16: bool, reduced_dtype: torch.dtype, device: torch.device, force_fp32: bool = False) -> torch.dtype:
    """The dtype a block's activations use on `device`."""
    if not use_fp16 or force_fp32:
        return torch.float32
    if reduced_dtype == torch.float16 and device.type != "cuda":
        return torch.float32
    return reduced_dtype


def set_reduced_precision(module: torch.nn.Module, dtype: torch.dtype) -> int:
    """Make every reduced-precision block inside `module` use `dtype` (float16 or bfloat16); returns how many."""
    if dtype not in REDUCED_DTYPES:
        raise ValueError(f"reduced precision must be torch.float16 or torch.bfloat16, got {dtype}")
    count = 0
    for sub in module.modules():
        if hasattr(sub, "reduced_dtype"):
            sub.reduced_dtype = dtype
            count += 1
    return count
