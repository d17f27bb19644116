"""Exponential moving average of a model's weights, with a warm-up so short runs are not dominated by init."""

from __future__ import annotations

import torch
from torch import nn


def ema_decay(step: int, target: float) -> float:
    """min(target, (1 + step) / (10 + step)): small decay early, `target` later."""
    return min(target, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for parameters; buffers are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.lerp_(p.detach(), 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)
