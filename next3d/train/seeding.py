"""Randomness of a training run as a pure function of (seed, step, phase, micro-batch).

Every micro-batch re-seeds torch's generators (CPU and CUDA) from these four numbers, so:
- a run resumed from a snapshot at step k draws exactly what the uninterrupted run drew (no RNG state to
  save), and
- one process running micro-batches 0..M-1 draws what M processes draw for the same global batch, so the
  result does not depend on the number of GPUs (only on `batch_gpu`).
"""

from __future__ import annotations

import numpy as np
import torch

PHASE_IDS = {"Gmain": 0, "Greg": 1, "Dmain": 2, "Dreg": 3, "metrics": 4, "grid": 5}


def micro_seed(seed: int, step: int, phase: str, micro: int) -> int:
    """A 63-bit seed for one (step, phase, global micro-batch index) of run `seed`."""
    state = np.random.SeedSequence([seed, step, PHASE_IDS[phase], micro]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 ^ int(state[1])


def seed_micro_batch(seed: int, step: int, phase: str, micro: int) -> None:
    """Seed torch's global CPU and CUDA generators for one micro-batch."""
    torch.manual_seed(micro_seed(seed, step, phase, micro))
