"""Process-group set-up from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); gloo on CPU, NCCL on CUDA."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from next3d.errors import BadInputError


@dataclass(frozen=True)
class DistEnv:
    """This process's place in a (possibly single-process) job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def env_from_environ() -> DistEnv:
    """Read RANK / WORLD_SIZE / LOCAL_RANK (absent: a single process)."""
    try:
        env = DistEnv(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")),
                      int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0"))))
    except ValueError as exc:
        raise BadInputError(f"RANK / WORLD_SIZE / LOCAL_RANK environment variables must be integers ({exc})") from None
    if env.world_size < 1 or not 0 <= env.rank < env.world_size:
        raise BadInputError(f"RANK={env.rank} WORLD_SIZE={env.world_size}: need 0 <= RANK < WORLD_SIZE")
    return env


def device_for(env: DistEnv, device: torch.device) -> torch.device:
    """With several processes on CUDA, each uses GPU LOCAL_RANK."""
    if device.type == "cuda" and env.distributed:
        return torch.device("cuda", env.local_rank)
    return device


def init_process_group(env: DistEnv, device: torch.device) -> bool:
    """Join the process group when running distributed with MASTER_ADDR set; True if this call joined it."""
    if not env.distributed or dist.is_initialized() or "MASTER_ADDR" not in os.environ:
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=env.rank, world_size=env.world_size)
    return True


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
