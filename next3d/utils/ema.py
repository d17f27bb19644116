"""Exponential moving averages of model weights (the EMA generator, the EMA prior)."""

from __future__ import annotations

import torch


def warmup_decay(step: int, target: float) -> float:
    """min(target, (1 + step) / (10 + step)): a small decay early, so short runs are not dominated by init."""
    return min(target, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, beta: float, skip_buffers: tuple[str, ...] = ("head.",)
               ) -> None:
    """p_ema <- lerp(p, p_ema, beta) for every parameter; buffers (e.g. w_avg) copied as they are, except those
    whose names start with `skip_buffers` (the generator's constant head-model buffers)."""
    ema_params = list(ema.parameters())
    if ema_params:
        torch._foreach_lerp_(ema_params, list(model.parameters()), 1.0 - beta)
    ema_buffers = dict(ema.named_buffers())
    for name, buffer in model.named_buffers():
        if not name.startswith(skip_buffers):
            ema_buffers[name].copy_(buffer)
