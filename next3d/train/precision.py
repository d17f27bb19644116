"""Which arithmetic the networks' reduced-precision blocks use while training.

The generator and discriminator mark their high-resolution blocks `use_fp16` (official choice, with conv
clamping); those run in float16 on CUDA and in float32 elsewhere. No autocast region is added, so no
gradient scaler is needed (the official training has none either; NaN/Inf gradients are zeroed instead).
"""

from __future__ import annotations

import torch

from next3d.networks.precision import set_reduced_precision


def apply_precision(module: torch.nn.Module, mode: str) -> int:
    """Set `module`'s reduced-precision blocks for `mode`; returns how many blocks run reduced on CUDA/CPU.

    'auto'/'fp16': float16 blocks (used on CUDA only, fp32 elsewhere); 'bf16': bfloat16 blocks (CUDA and
    CPU); 'fp32': every block in float32.
    """
    blocks = [m for m in module.modules() if hasattr(m, "reduced_dtype")]
    if mode == "fp32":
        for block in blocks:
            block.use_fp16 = False
        return 0
    set_reduced_precision(module, torch.bfloat16 if mode == "bf16" else torch.float16)
    return sum(1 for block in blocks if block.use_fp16)
