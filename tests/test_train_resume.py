"""Kill-safety: a run killed with SIGKILL (at a random moment, or in the middle of writing a snapshot) and
resumed with --resume auto ends with exactly the weights of a run that was never interrupted."""

import json
import random
import shutil
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

from next3d.cli import main
from next3d.io.checkpoint import load_checkpoint
from next3d.utils.jsonl import read_events
from tests.train_support import micro_generator, subprocess_env, synth_data

STEPS, BATCH, SNAP_EVERY = 6, 4, 2
KILL_SEED = 20240611  # the random kill moment is reproducible; change it to try another moment


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    data = synth_data(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("resume")
    generator = tmp / "micro.json"
    generator.write_text(json.dumps(micro_generator().to_dict()))
    return data, generator, tmp


def train_args(data, generator, out, *extra):
    return ["train", "--data", str(data), "--out", str(out), "--run-name", "run", "--generator-config", str(generator),
            "--batch", str(BATCH), "--kimg", str(STEPS * BATCH / 1000), "--snap-kimg", str(SNAP_EVERY * BATCH / 1000),
            "--tick-kimg", str(BATCH / 1000), "--device", "cpu", "--workers", "0", "--grid-seeds", "1",
            "--grid-views", "2", "--no-progress", *extra]


def run_cli_process(args, timeout=300):
    done = subprocess.run([sys.executable, "-m", "next3d", *args], env=subprocess_env(), capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def reference(setup):
    """The uninterrupted run."""
    data, generator, tmp = setup
    run_cli_process(train_args(data, generator, tmp / "reference"))
    return tmp / "reference" / "run"


def assert_same_training_state(run_a, run_b):
    a, b = load_checkpoint(run_a), load_checkpoint(run_b)
    assert a.meta["training"]["step"] == b.meta["training"]["step"] == STEPS
    assert set(a.tensors) == set(b.tensors) == {"G", "G_ema", "D", "G_opt", "D_opt"}
    for module in a.tensors:
        assert set(a.tensors[module]) == set(b.tensors[module]), module
        different = [k for k, v in a.tensors[module].items() if not torch.equal(v, b.tensors[module][k])]
        assert not different, f"{module}: {different[:5]} differ"


def wait_for_event(log, event, proc, timeout=240):
    start = time.time()
    while time.time() - start < timeout:
        if any(e["event"] == event for e in read_events(log)):
            return
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    raise AssertionError(f"no {event!r} event within {timeout} s")


def step_seconds(run_dir):
    ticks = [e for e in read_events(run_dir / "log.jsonl") if e["event"] == "tick"]
    return min(t["sec_per_kimg"] for t in ticks) * BATCH / 1000


def test_sigkill_at_a_random_moment_then_resume_is_bit_exact(setup, reference):
    data, generator, tmp = setup
    out = tmp / "killed-random"
    args = train_args(data, generator, out)
    proc = subprocess.Popen([sys.executable, "-m", "next3d", *args], env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_event(out / "run" / "log.jsonl", "snapshot", proc)
        # Somewhere within the next two steps (the run has four left): mid-step, mid-grid or mid-snapshot.
        time.sleep(random.Random(KILL_SEED).uniform(0, 2 * step_seconds(reference)))
        assert proc.poll() is None, "the run finished before the kill"
        proc.kill()
    finally:
        proc.wait()
    assert proc.returncode == -9
    killed_at = max(e.get("step", 0) for e in read_events(out / "run" / "log.jsonl"))
    assert killed_at < STEPS
    run_cli_process(train_args(data, generator, out, "--resume", "auto"))
    assert_same_training_state(reference, out / "run")
    events = read_events(out / "run" / "log.jsonl")
    assert [e["event"] for e in events].count("resume") == 1 and events[-1]["event"] == "done"
    steps = [e["step"] for e in events if e["event"] == "tick"]
    assert steps == list(range(1, STEPS + 1)), "the log holds each step once, in order"


DYING_WRITER = """
import os, signal, sys
import next3d.io.checkpoint as checkpoint

real_save, calls = checkpoint.save_file, []

def save_then_die(tensors, filename, metadata=None):
    calls.append(filename)
    real_save(tensors, filename, metadata=metadata)
    if len(calls) == 2:  # the second snapshot: half-written when the process dies
        with open(filename, "r+b") as f:
            f.truncate(os.path.getsize(filename) // 2)
        os.kill(os.getpid(), signal.SIGKILL)

checkpoint.save_file = save_then_die
from next3d.cli import main
main(sys.argv[1:], prog_name="next3d")
"""


def test_sigkill_while_writing_a_snapshot_keeps_the_previous_one(setup, reference):
    data, generator, tmp = setup
    out = tmp / "killed-writing"
    (tmp / "dying_writer.py").write_text(DYING_WRITER)
    died = subprocess.run([sys.executable, str(tmp / "dying_writer.py"), *train_args(data, generator, out)],
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert died.returncode == -9, died.stderr[-2000:]
    run = out / "run"
    partial = list(run.glob(".snapshot-*.tmp.*"))
    assert len(partial) == 1, "the half-written snapshot stays a temporary file"
    assert load_checkpoint(run).meta["training"]["step"] == SNAP_EVERY  # the complete one is untouched
    run_cli_process(train_args(data, generator, out, "--resume", "auto"))
    assert not partial[0].exists(), "resume removes what the killed writer left"
    assert_same_training_state(reference, run)


def test_corrupt_latest_snapshot_falls_back_to_the_previous_with_a_warning(setup, reference):
    data, generator, tmp = setup
    copy = tmp / "corrupt" / "run"
    shutil.copytree(reference, copy)
    (copy / "snapshot-000001.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    result = CliRunner().invoke(main, train_args(data, generator, tmp / "corrupt", "--resume", "auto"),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "warning: skipping unreadable snapshot" in result.output and "snapshot-000001" in result.output
    assert f"finished {copy} at kimg {STEPS * BATCH / 1000:.3f} (step {STEPS})" in result.output


def test_resume_keeps_the_runs_settings(setup, reference):
    data, generator, tmp = setup
    copy = tmp / "settings" / "run"
    shutil.copytree(reference, copy)
    args = train_args(data, generator, tmp / "settings", "--resume", "auto")
    args[args.index("--batch") + 1] = "8"
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 1
    assert "batch 8 (given) vs 4 (the run's)" in result.output.strip().splitlines()[-1]


def test_old_snapshots_are_pruned_to_the_newest_n(tmp_path):
    from next3d.train.snapshot import prune_snapshots

    for kimg in (0, 4, 8, 12):
        (tmp_path / f"snapshot-{kimg:06d}.safetensors").write_bytes(b"x")
    deleted = prune_snapshots(tmp_path, 2)
    assert [p.name for p in deleted] == ["snapshot-000000.safetensors", "snapshot-000004.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot-000008.safetensors", "snapshot-000012.safetensors"]
