"""G_ema: the exponential moving average of G's weights that snapshots, grids and metrics use."""

from __future__ import annotations

import torch


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    """p_ema <- lerp(p, p_ema, beta) for every parameter; buffers (w_avg, ...) copied as they are (the head
    model's constant buffers are skipped)."""
    ema_params = list(G_ema.parameters())
    params = list(G.parameters())
    if ema_params:
        torch._foreach_lerp_(ema_params, params, 1.0 - beta)
    ema_buffers = dict(G_ema.named_buffers())
    for name, buffer in G.named_buffers():
        if not name.startswith("head."):
            ema_buffers[name].copy_(buffer)
