"""Where a process stands in a (possibly single-process) job: shared by GAN training and the diffusion jobs."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: rank among world_size processes, and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1
