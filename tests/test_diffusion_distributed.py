"""Two processes (gloo) as torchrun would launch them: save-samples writes the single-process store, and
training keeps the ranks in lockstep with rank 0 alone writing the run."""

from __future__ import annotations

import json
import os
import socket

import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from next3d.diffusion.generator_source import GeneratorSource
from next3d.diffusion.save_samples import SaveSamplesConfig, save_samples


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _samples_config(out: str) -> SaveSamplesConfig:
    return SaveSamplesConfig(out, 6, shard_size=2, batch=2, image_resolution=16, progress=False, device="cpu")


def _rank(rank: int, world: int, port: int, root: str, threads: int) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(threads)  # as the parent's single-process run, so float results match bit for bit
    from next3d.diffusion.train import TrainConfig, train_prior

    save_samples(_samples_config(f"{root}/store"), GeneratorSource(preset="tiny"))
    cfg = TrainConfig(f"{root}/store", f"{root}/run", steps=4, batch=4, lr=1e-3, width=16, depth=1, heads=2,
                      snapshot_every=2, log_every=1, progress=False, device="cpu")
    state = train_prior(cfg)
    save_file({k: v.contiguous() for k, v in state.prior.state_dict().items()}, f"{root}/rank{rank}.safetensors")


def _files(path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and "logs" not in p.parts}


def test_two_gloo_ranks_write_the_store_and_train_in_lockstep(tmp_path):
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path), torch.get_num_threads()), nprocs=2)
    save_samples(_samples_config(str(tmp_path / "single")), GeneratorSource(preset="tiny"))
    assert _files(tmp_path / "store") == _files(tmp_path / "single")  # shards, index and stats alike

    rank0, rank1 = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key  # gradients were averaged across ranks
    assert sorted(p.name for p in (tmp_path / "run").glob("snapshot-*")) == ["snapshot-00000002.safetensors",
                                                                             "snapshot-00000004.safetensors"]
    events = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("train") == 4  # one log, from rank 0
    assert events[0]["world_size"] == 2
