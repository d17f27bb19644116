"""Per-tick training statistics: sums kept on the device (no sync per step), averaged over all processes
when a tick is logged."""

from __future__ import annotations

import torch

from next3d.train.distributed import DistributedContext, all_reduce_sum

STAT_NAMES = ("loss_G", "scores_fake_G", "loss_density", "loss_D", "scores_real", "scores_fake", "r1_penalty",
              "loss_r1")


class TickStats:
    """Running sums of the phases' scalar statistics since the last tick."""

    def __init__(self, device: torch.device):
        self.device = device
        self.sums = torch.zeros(len(STAT_NAMES), 2, dtype=torch.float64, device=device)  # (sum, count)

    def add(self, values: dict) -> None:
        for name, value in values.items():
            if name in STAT_NAMES:
                row = self.sums[STAT_NAMES.index(name)]
                row[0] += value.detach().to(torch.float64)
                row[1] += 1

    def collect(self, ctx: DistributedContext) -> dict[str, float]:
        """Means over every process since the last call (a collective: all ranks together), then reset."""
        sums = all_reduce_sum(self.sums.clone(), ctx).cpu()
        self.sums.zero_()
        return {name: float(s / n) for name, (s, n) in zip(STAT_NAMES, sums.tolist()) if n > 0}
