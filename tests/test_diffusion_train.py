"""Training the prior: snapshots hold everything, resume continues exactly, bad runs are refused clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from next3d.diffusion.latent_stats import write_store_stats
from next3d.diffusion.latent_store import (
    FieldSpec,
    LatentStore,
    LatentStoreWriter,
    StoreLayout,
)
from next3d.diffusion.prior import load_prior
from next3d.diffusion.train import TrainConfig, train_prior
from next3d.errors import BadInputError
from next3d.io.checkpoint import load_checkpoint


@pytest.fixture()
def store(tmp_path):
    rng = np.random.default_rng(0)
    layout = StoreLayout(40, 16, {"wplus": FieldSpec((3, 6), "float32"), "image": FieldSpec((8, 8, 3), "uint8")},
                         ("wplus",), {"generator": {"preset": "toy"}})
    writer = LatentStoreWriter(tmp_path / "store", layout)
    for shard in writer.pending_shards():
        with writer.open_shard(shard) as arrays:
            arrays["wplus"][:] = rng.normal(size=(len(shard), 3, 6)) * 2 + 1
            arrays["image"][:] = rng.integers(0, 256, size=(len(shard), 8, 8, 3))
    write_store_stats(LatentStore(tmp_path / "store"))
    return tmp_path / "store"


def _config(store, out, **changes) -> TrainConfig:
    base = {"steps": 6, "batch": 4, "lr": 1e-3, "ema": 0.9, "width": 16, "depth": 1, "heads": 2, "conditional": True,
            "cond_resolution": 8, "cond_channels": 8, "cond_grid": 2, "cond_width": 16, "snapshot_every": 3,
            "log_every": 1, "progress": False, "device": "cpu"}
    return TrainConfig(str(store), str(out), **{**base, **changes})


def test_resumed_run_ends_bit_identical_to_an_uninterrupted_one(store, tmp_path):
    straight = train_prior(_config(store, tmp_path / "a"))
    train_prior(_config(store, tmp_path / "b", steps=3))
    resumed = train_prior(_config(store, tmp_path / "b", resume="latest"))
    assert resumed.step == 6
    for a, b in zip(straight.prior.state_dict().values(), resumed.prior.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.prior_ema.state_dict().values(), resumed.prior_ema.state_dict().values()):
        assert torch.equal(a, b)


def test_snapshot_holds_prior_ema_optimizer_stats_and_config(store, tmp_path):
    state = train_prior(_config(store, tmp_path / "run"))
    ckpt = load_checkpoint(tmp_path / "run")  # a run folder resolves to its latest snapshot
    assert ckpt.path.name == "snapshot-00000006.safetensors"
    assert ckpt.meta["kind"] == "prior" and ckpt.meta["training"]["step"] == 6
    assert {"prior", "prior_ema", "optimizer"} <= set(ckpt.tensors)
    assert ckpt.meta["prior_config"]["source"] == {"generator": {"preset": "toy"}}
    data = LatentStore(store).field("wplus")[:]
    center = torch.from_numpy((data.max(0) + data.min(0)) / 2).float()
    assert torch.allclose(ckpt.tensors["prior_ema"]["normalizer.center"], center)
    prior = load_prior(tmp_path / "run")
    for key, value in state.prior_ema.state_dict().items():
        assert torch.equal(prior.state_dict()[key], value)
    events = [json.loads(line)["event"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert events.count("train") == 6 and events.count("snapshot") == 2


def test_bad_runs_are_refused_with_a_clear_message(store, tmp_path):
    train_prior(_config(store, tmp_path / "run", steps=3))
    with pytest.raises(BadInputError, match="already holds snapshots"):
        train_prior(_config(store, tmp_path / "run", steps=3))
    with pytest.raises(BadInputError, match="prior settings differ"):
        train_prior(_config(store, tmp_path / "run", steps=6, width=32, resume="latest"))
    with pytest.raises(BadInputError, match="holds latent fields wplus"):
        train_prior(_config(store, tmp_path / "other", latent_field="style"))
    with pytest.raises(BadInputError, match="not a latent store"):
        train_prior(_config(tmp_path / "nowhere", tmp_path / "x"))
