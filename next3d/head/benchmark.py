"""Timing the head model's forward pass (speed is shown by this benchmark, never asserted in tests)."""

from __future__ import annotations

import time

import torch

from next3d.head.model import HeadModel
from next3d.head.params import HeadParams


def time_forward(head: HeadModel, batch: int, device: torch.device, repeat: int = 50, grad: bool = False) -> float:
    """Median milliseconds of one `head(params)` call for a random batch on `device` (warm-up excluded)."""
    head = head.to(device)
    g = torch.Generator().manual_seed(0)
    params = HeadParams.neutral(head, batch=batch, device="cpu")
    for name in ("shape", "expression", "jaw", "neck", "eyes", "rotation", "translation"):
        setattr(params, name, torch.rand(getattr(params, name).shape, generator=g) * 0.2)
    params = params.to(device)
    if grad:
        for name in ("shape", "expression", "jaw", "neck", "eyes", "rotation", "translation"):
            getattr(params, name).requires_grad_(True)
    times = []
    context = torch.enable_grad() if grad else torch.no_grad()
    with context:
        warmup = min(5, repeat)
        for step in range(repeat + warmup):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            out = head(params)
            if grad:
                out.vertices.sum().backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if step >= warmup:
                times.append(time.perf_counter() - start)
    times.sort()
    return 1000.0 * times[len(times) // 2]
