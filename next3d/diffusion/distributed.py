"""The diffusion jobs' process-group set-up from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); gloo on
CPU, NCCL on CUDA. Unlike GAN training, save-samples also runs ranks without a process group."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from next3d.errors import BadInputError
from next3d.utils.distributed import DistributedContext


def context_from_environ(device: torch.device) -> DistributedContext:
    """Read RANK / WORLD_SIZE / LOCAL_RANK (absent: a single process); with several processes on CUDA, each
    uses GPU LOCAL_RANK."""
    try:
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0")))
    except ValueError as exc:
        raise BadInputError(f"RANK / WORLD_SIZE / LOCAL_RANK environment variables must be integers ({exc})") from None
    if world < 1 or not 0 <= rank < world:
        raise BadInputError(f"RANK={rank} WORLD_SIZE={world}: need 0 <= RANK < WORLD_SIZE")
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local)
    return DistributedContext(rank, world, local, device)


def init_process_group(ctx: DistributedContext) -> bool:
    """Join the process group when running distributed with MASTER_ADDR set; True if this call joined it.

    Without MASTER_ADDR the ranks run independently (save-samples: one after another, e.g. as a job array)."""
    if not ctx.distributed or dist.is_initialized() or "MASTER_ADDR" not in os.environ:
        return False
    if ctx.device.type == "cuda":
        torch.cuda.set_device(ctx.device)
    dist.init_process_group("nccl" if ctx.device.type == "cuda" else "gloo", rank=ctx.rank,
                            world_size=ctx.world_size)
    return True


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
