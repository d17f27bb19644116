"""Shared pieces of the training tests: a generator smaller than `tiny` (CPU steps of a fraction of a second),
one synthetic dataset per test session, and settings for short runs."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import torch

from next3d.networks.presets import preset_config
from next3d.render.volume import RenderSettings
from next3d.train import LossConfig, RunOptions, TrainConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_RESOLUTION = 32
DATA_COUNT = 32


def micro_generator(**overrides):
    """`tiny` shrunk to 32^2 images, 16^2 rendering, 8 + 8 samples: the whole pipeline, just smaller."""
    settings = dict(img_resolution=32, neural_rendering_resolution=16, plane_resolution=32, plane_channels=8,
                    channel_base=256, channel_max=16, mouth_in_size=8, blend_final_size=8, sr_block_channels=(16, 8),
                    decoder_hidden=16, rendering=RenderSettings(samples=8, importance_samples=8),
                    d_channel_base=256, d_channel_max=16)
    return preset_config("tiny", **{**settings, **overrides})


def synth_data(tmp_path_factory) -> Path:
    """32 rendered heads at 32^2 with head parameters, made once per session (all-or-nothing by construction)."""
    from next3d.data.synth import synth_dataset
    from next3d.data.synth_settings import SynthSettings
    from next3d.head import load_default_head

    path = tmp_path_factory.getbasetemp() / "train-data" / f"synth{DATA_RESOLUTION}"
    if not path.exists():
        head = load_default_head()
        settings = SynthSettings(n=DATA_COUNT, resolution=DATA_RESOLUTION, seed=7, batch=16, supersample=1,
                                 head_name=head.name, head_hash=head.content_hash(), device_type="cpu")
        with single_thread():
            synth_dataset(path, settings, head, "cpu", progress=False)
    return path


def train_config(data: Path, **overrides) -> TrainConfig:
    """A micro run: batch 4 in one micro-batch, lazy regularization every 2 steps so short runs exercise it."""
    settings = dict(data=str(data), generator=micro_generator(), batch=4,
                    loss=LossConfig(r1_interval=2, density_reg_interval=2))
    return TrainConfig(**{**settings, **overrides})


def run_options(out: Path, steps: int, batch: int = 4, **overrides) -> RunOptions:
    """Train for `steps` steps of `batch` on the CPU, one snapshot at the end, tiny grids, no progress bar."""
    settings = dict(out=str(out), run_name="run", kimg=steps * batch / 1000, snap_kimg=1000.0, tick_kimg=1000.0,
                    device="cpu", workers=0, grid_seeds=1, grid_views=2, progress=False)
    return RunOptions(**{**settings, **overrides})


def subprocess_env() -> dict:
    """Environment for child Python processes: the repo importable, one CPU thread (see `single_thread`)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


@contextlib.contextmanager
def single_thread():
    """Run torch on one CPU thread: on a machine shared with other jobs, OpenMP threads spin-waiting for each
    other make a 2-thread step 10-50x slower, while one thread just takes its share."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_python(script: Path, *args, timeout: float = 300, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *map(str, args)], env=subprocess_env(), timeout=timeout,
                          capture_output=True, text=True, **popen)
