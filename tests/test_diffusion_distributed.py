"""Two-process (gloo) training as torchrun would launch it: ranks stay in step, rank 0 alone writes the run."""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from next3d.diffusion.latent_stats import write_store_stats
from next3d.diffusion.latent_store import (
    FieldSpec,
    LatentStore,
    LatentStoreWriter,
    StoreLayout,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, store: str, out: str, results: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from next3d.diffusion.train import TrainConfig, train_prior

    cfg = TrainConfig(store, out, steps=4, batch=4, lr=1e-3, width=16, depth=1, heads=2, snapshot_every=2,
                      log_every=1, progress=False, device="cpu")
    state = train_prior(cfg)
    save_file({k: v.contiguous() for k, v in state.prior.state_dict().items()}, f"{results}/rank{rank}.safetensors")


def test_two_gloo_ranks_train_in_lockstep_and_rank0_writes_once(tmp_path):
    rng = np.random.default_rng(0)
    layout = StoreLayout(32, 16, {"wplus": FieldSpec((3, 6), "float32")}, ("wplus",))
    writer = LatentStoreWriter(tmp_path / "store", layout)
    for shard in writer.pending_shards():
        with writer.open_shard(shard) as arrays:
            arrays["wplus"][:] = rng.normal(size=(len(shard), 3, 6))
    write_store_stats(LatentStore(tmp_path / "store"))
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path / "store"), str(tmp_path / "run"), str(tmp_path)), nprocs=2)
    rank0, rank1 = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key  # gradients were averaged across ranks
    assert sorted(p.name for p in (tmp_path / "run").glob("snapshot-*")) == ["snapshot-00000002.safetensors",
                                                                             "snapshot-00000004.safetensors"]
    events = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("train") == 4  # one log, from rank 0
    assert events[0]["world_size"] == 2
