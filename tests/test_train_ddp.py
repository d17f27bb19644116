"""The multi-GPU path on the CPU: `--gpus 2 --device cpu` starts two gloo processes through torchrun, which
train like one process running the same global batch as two micro-batches, and only rank 0 writes."""

import json
import subprocess
import sys

import pytest
import torch

from next3d.head import load_default_head
from next3d.io.checkpoint import load_checkpoint
from next3d.networks.generator import Next3DGenerator
from next3d.utils.jsonl import read_events
from tests.train_support import micro_generator, subprocess_env, synth_data

STEPS, BATCH = 3, 4


def train(data, generator, out, name, *extra):
    args = [sys.executable, "-m", "next3d", "train", "--data", str(data), "--out", str(out), "--run-name", name,
            "--generator-config", str(generator), "--batch", str(BATCH), "--kimg", str(STEPS * BATCH / 1000),
            "--snap-kimg", "1000", "--tick-kimg", "1000", "--device", "cpu", "--workers", "0", "--grid-seeds", "1",
            "--grid-views", "2", "--no-progress", *extra]
    done = subprocess.run(args, env=subprocess_env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return out / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    data = synth_data(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("ddp")
    generator = tmp / "micro.json"
    generator.write_text(json.dumps(micro_generator().to_dict()))
    one = train(data, generator, tmp / "one", "run", "--batch-gpu", "2")  # 2 micro-batches in one process
    two = train(data, generator, tmp / "two", "run", "--gpus", "2")  # 1 micro-batch in each of 2 processes
    return one, two


def test_two_processes_train_like_one_with_the_same_global_batch(runs):
    one, two = (load_checkpoint(r) for r in runs)
    assert one.meta["training"]["step"] == two.meta["training"]["step"] == STEPS
    for module in ("G", "G_ema", "D"):
        for name, a in one.tensors[module].items():
            b = two.tensors[module][name]
            # Only the order of float sums differs (DDP's all-reduce vs accumulation in one process).
            assert torch.allclose(a, b, rtol=1e-4, atol=2e-5), f"{module}.{name}: max diff {(a - b).abs().max()}"
    # Training moved the weights far more than that tolerance: the comparison is not vacuous.
    torch.manual_seed(0)  # the runs' seed: their initial weights
    initial = Next3DGenerator(micro_generator(), load_default_head()).state_dict()
    moved = max(float((one.tensors["G"][k] - v).abs().max()) for k, v in initial.items())
    assert moved > 1e-3


def test_only_rank_zero_writes(runs):
    _, two = runs
    assert [p.name for p in two.parent.iterdir()] == ["run"]
    assert len(list(two.glob("snapshot-*.safetensors"))) == 1 and len(list(two.glob("grid-*.png"))) == 1
    assert not list(two.glob(".*tmp*"))
    events = read_events(two / "log.jsonl")
    assert [e["event"] for e in events].count("start") == 1 and events[0]["gpus"] == 2
    assert events[0]["batch_gpu"] == 2 and events[-1]["event"] == "done"
