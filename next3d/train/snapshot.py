"""Training snapshots: one safetensors file per snapshot (G, G_ema, D and both optimizers' state as tensors;
config, head, step and data position as JSON), written atomically so a kill at any moment leaves every
snapshot either complete or absent. `next3d.io.generator_file.load_generator(run_dir)` opens the latest."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

from next3d.errors import BadInputError
from next3d.io.checkpoint import Checkpoint, SNAPSHOT_GLOB, load_checkpoint, load_state_strict, save_checkpoint
from next3d.io.generator_file import generator_meta
from next3d.train.config import TrainConfig
from next3d.train.optim import load_optimizer_tensors, optimizer_tensors

SNAPSHOT_KIND = "snapshot"
RANDOMNESS = "torch generators re-seeded from (seed, step, phase, micro-batch) (next3d/train/seeding.py)"


@dataclass(frozen=True)
class TrainingState:
    """Where training stands: optimizer steps done and real images shown (= step * batch)."""

    step: int
    nimg: int

    @property
    def kimg(self) -> float:
        return self.nimg / 1000


def snapshot_path(run_dir: Path, nimg: int) -> Path:
    """`snapshot-<kimg:06d>.safetensors` (a later snapshot within the same kimg replaces the earlier one)."""
    return run_dir / f"snapshot-{nimg // 1000:06d}.safetensors"


def save_snapshot(path: Path, nets, opts, config: TrainConfig, state: TrainingState, data_entries: int) -> None:
    """Write G, G_ema, D and the optimizers (nets/opts: objects with .G .G_ema .D / .G .D) atomically."""
    modules = {"G": nets.G, "G_ema": nets.G_ema, "D": nets.D,
               "G_opt": optimizer_tensors(opts.G, nets.G), "D_opt": optimizer_tensors(opts.D, nets.D)}
    meta = {
        "kind": SNAPSHOT_KIND,
        **generator_meta(nets.G_ema),
        "discriminator_config": dataclasses.asdict(nets.D.config),
        "training": {"config": config.to_dict(), "step": state.step, "nimg": state.nimg, "kimg": state.kimg,
                     "data_entries": data_entries, "data_position": state.nimg, "randomness": RANDOMNESS},
    }
    save_checkpoint(path, modules, meta)


def list_snapshots(run_dir: Path) -> list[Path]:
    """The run's snapshot files, oldest first."""
    return sorted(Path(run_dir).glob(SNAPSHOT_GLOB))


def load_snapshot(path: Path) -> Checkpoint:
    """Read a snapshot file completely, checking it is a training snapshot."""
    ckpt = load_checkpoint(path)
    training = ckpt.meta.get("training")
    if ckpt.meta.get("kind") != SNAPSHOT_KIND or not isinstance(training, dict) or "step" not in training:
        raise BadInputError(f"{path}: not a training snapshot (kind '{ckpt.meta.get('kind', '?')}')")
    for name in ("G", "G_ema", "D"):
        if name not in ckpt.tensors:
            raise BadInputError(f"{path}: snapshot without '{name}' weights")
    return ckpt


def load_latest_snapshot(run_dir: Path, warn=None) -> Checkpoint:
    """The newest snapshot of a run that reads completely; an unreadable newer one is skipped with a warning."""
    warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
    snapshots = list_snapshots(run_dir)
    if not snapshots:
        raise BadInputError(f"{run_dir}: no {SNAPSHOT_GLOB} to resume from")
    problems = []
    for path in reversed(snapshots):
        try:
            ckpt = load_snapshot(path)
        except BadInputError as exc:
            problems.append(str(exc))
            warn(f"skipping unreadable snapshot: {exc}")
            continue
        return ckpt
    raise BadInputError(f"{run_dir}: none of its {len(snapshots)} snapshots can be read ({problems[0]})")


def restore_snapshot(ckpt: Checkpoint, nets, opts) -> TrainingState:
    """Load weights and optimizer state into the (already built) networks and optimizers."""
    where = str(ckpt.path)
    for name in ("G", "G_ema", "D"):
        load_state_strict(getattr(nets, name), ckpt.module_state(name), f"{where} ({name})")
    for name in ("G", "D"):
        load_optimizer_tensors(getattr(opts, name), getattr(nets, name), ckpt.tensors.get(f"{name}_opt", {}),
                               f"{where} ({name}_opt)")
    training = ckpt.meta["training"]
    return TrainingState(step=int(training["step"]), nimg=int(training["nimg"]))


def snapshot_config(ckpt: Checkpoint) -> TrainConfig:
    """The TrainConfig a snapshot was trained with."""
    return TrainConfig.from_dict(ckpt.meta["training"]["config"], where=f"{ckpt.path}: training config")


def prune_snapshots(run_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` snapshot files; returns the deleted paths."""
    old = list_snapshots(run_dir)[:-keep] if keep > 0 else []
    for path in old:
        path.unlink(missing_ok=True)
    return old


def remove_partial_files(run_dir: Path) -> int:
    """Delete temporary files a killed writer left behind (atomic writes' `.NAME.tmp.*`); returns how many."""
    count = 0
    for path in Path(run_dir).glob(".*.tmp.*"):
        if path.is_file():
            path.unlink(missing_ok=True)
            count += 1
    return count
