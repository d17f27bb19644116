"""The order in which real images are shown: one endless, seeded stream shared by all processes.

Stream position p holds dataset item `permutation(seed, epoch)[p mod N]` with epoch = p // N. Step s
consumes positions [s * batch, (s + 1) * batch); global micro-batch m of that step is the slice
[s * batch + m * batch_gpu, ... + batch_gpu) and process r runs micro-batches r*K .. r*K + K - 1. A run
resumed at step s restarts the stream at s * batch, so the data order never depends on kills or GPU count.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


def epoch_permutation(seed: int, epoch: int, size: int) -> torch.Tensor:
    """The dataset order of one pass (seeded by run seed and epoch)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(size, generator=generator)


class StreamSampler(torch.utils.data.Sampler):
    """Dataset indices of this process's micro-batches, step after step from `start_step` on (endless)."""

    def __init__(self, size: int, seed: int, batch: int, batch_gpu: int, rank: int = 0, world_size: int = 1,
                 start_step: int = 0):
        if size < 1:
            raise ValueError("empty dataset")
        self.size, self.seed, self.batch, self.batch_gpu = size, seed, batch, batch_gpu
        self.rank, self.world_size, self.start_step = rank, world_size, start_step
        self.micro_per_rank = batch // (world_size * batch_gpu)

    def positions(self, step: int) -> list[int]:
        """Stream positions this process reads at `step`, in micro-batch order."""
        first = step * self.batch + self.rank * self.micro_per_rank * self.batch_gpu
        return list(range(first, first + self.micro_per_rank * self.batch_gpu))

    def __iter__(self) -> Iterator[int]:
        cached_epoch, order = -1, None
        step = self.start_step
        while True:
            for position in self.positions(step):
                epoch = position // self.size
                if epoch != cached_epoch:
                    cached_epoch, order = epoch, epoch_permutation(self.seed, epoch, self.size)
                yield int(order[position % self.size])
            step += 1
