"""Timing the head model's forward pass (speed is shown by this benchmark, never asserted in tests)."""

from __future__ import annotations

import torch

from next3d.head.model import HeadModel
from next3d.head.params import FIELDS, HeadParams
from next3d.utils.timing import median_ms


def time_forward(head: HeadModel, batch: int, device: torch.device, repeat: int = 50, grad: bool = False) -> float:
    """Median milliseconds of one `head(params)` call for a random batch on `device` (warm-up excluded)."""
    head = head.to(device)
    g = torch.Generator().manual_seed(0)
    params = HeadParams.neutral(head, batch=batch, device="cpu")
    for name in FIELDS:
        setattr(params, name, torch.rand(getattr(params, name).shape, generator=g) * 0.2)
    params = params.to(device)
    if grad:
        for name in FIELDS:
            getattr(params, name).requires_grad_(True)

    def forward() -> None:
        out = head(params)
        if grad:
            out.vertices.sum().backward()

    with torch.enable_grad() if grad else torch.no_grad():
        return median_ms(forward, device, repeat, warmup=min(5, repeat))
