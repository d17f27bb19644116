"""One process per GPU (or per CPU worker with gloo): torchrun environment, process group, DDP wrapping,
and the few collective operations the loop needs. A single process needs no process group at all."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import torch
import torch.distributed as dist

from next3d.errors import BadInputError
from next3d.utils.device import resolve_device
from next3d.utils.distributed import DistributedContext  # noqa: F401 (also the loop's name for it)


def launched_by_torchrun() -> bool:
    """True inside a process started by torchrun (it sets WORLD_SIZE, RANK and LOCAL_RANK)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup(device_name: str, gpus: int) -> DistributedContext:
    """Join the process group torchrun prepared (NCCL on CUDA, gloo on CPU), or run as one process."""
    if not launched_by_torchrun():
        if gpus > 1:
            raise BadInputError(f"--gpus {gpus} needs one process per GPU: run through torchrun (the `train` "
                                "command does this itself)")
        return DistributedContext(0, 1, 0, resolve_device(device_name))
    world, rank, local = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if gpus not in (1, world):
        raise BadInputError(f"--gpus {gpus} but torchrun started {world} processes")
    device = resolve_device(device_name)
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise BadInputError(f"process {local} has no GPU: {torch.cuda.device_count()} CUDA device(s), "
                                f"{world} processes")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        torch.set_num_threads(max(1, cpus // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo",
                                **({"device_id": device} if device.type == "cuda" else {}))
    return DistributedContext(rank, world, local, device)


def teardown(ctx: DistributedContext) -> None:
    """Leave the process group (all ranks together)."""
    if ctx.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap(module: torch.nn.Module, ctx: DistributedContext, find_unused: bool = False) -> torch.nn.Module:
    """DistributedDataParallel around `module` when there are several processes; the module itself otherwise.

    Buffers are not broadcast on every forward: the loop keeps them identical on all ranks itself.
    """
    if not ctx.distributed:
        return module
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=device_ids, broadcast_buffers=False,
                                                     find_unused_parameters=find_unused)


def no_sync(module: torch.nn.Module, skip: bool):
    """Skip DDP's gradient all-reduce for this backward (gradient accumulation) when `skip`."""
    if skip and isinstance(module, torch.nn.parallel.DistributedDataParallel):
        return module.no_sync()
    return contextlib.nullcontext()


def all_reduce_sum(tensor: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    """Sum `tensor` over all processes (in place; returned for chaining)."""
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_rank(flag: bool, ctx: DistributedContext) -> bool:
    """True on every rank if `flag` is true on any rank (a collective: call it on all ranks together)."""
    if not ctx.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(ctx: DistributedContext) -> None:
    if ctx.distributed:
        dist.barrier()


def relaunch_with_torchrun(gpus: int, argv: list[str]) -> int:
    """Run `python -m next3d <argv>` as `gpus` processes under torchrun (single node); returns its exit code."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
               "-m", "next3d", *argv]
    return subprocess.call(command)
