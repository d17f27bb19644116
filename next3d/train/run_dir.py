"""Run directories (`RUNS/<00000-preset-data>/` or `RUNS/<name>/`) and deciding what an invocation does:
start a new run, or continue one from a snapshot with the settings it was started with."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from next3d.errors import BadInputError
from next3d.io.checkpoint import Checkpoint
from next3d.train.config import RunOptions, TrainConfig
from next3d.train.snapshot import list_snapshots, load_latest_snapshot, load_snapshot, snapshot_config
from next3d.utils.atomic import atomic_write_text

CONFIG_FILE = "config.json"
RUN_ID = re.compile(r"^(\d+)-")
RESUME_MAY_CHANGE = ("data",)  # a moved dataset; everything else must stay as the run was started


@dataclass
class RunPlan:
    """What this invocation does: train in `run_dir`, from `snapshot` (None: from scratch) with `config`."""

    run_dir: Path
    config: TrainConfig
    snapshot: Checkpoint | None

    @property
    def resuming(self) -> bool:
        return self.snapshot is not None


def numbered_runs(out: Path) -> list[Path]:
    """Run directories named `<id>-...` under `out`, by id."""
    if not out.is_dir():
        return []
    runs = [p for p in out.iterdir() if p.is_dir() and RUN_ID.match(p.name)]
    return sorted(runs, key=lambda p: int(RUN_ID.match(p.name).group(1)))


def new_run_name(out: Path, config: TrainConfig, data_name: str) -> str:
    """`<next id:05d>-<preset>-<dataset name>` (EG3D's naming)."""
    runs = numbered_runs(out)
    next_id = int(RUN_ID.match(runs[-1].name).group(1)) + 1 if runs else 0
    return f"{next_id:05d}-{config.generator.preset}-{data_name}"


def plan_run(options: RunOptions, config: TrainConfig | None, overrides: dict | None, data_name: str,
             warn=None) -> RunPlan:
    """Pick the run directory and starting point.

    resume None: a new run (`config` required). 'auto': the named run (or the newest numbered run) from its
    latest readable snapshot, or a new run when there is none. A path: that run directory's latest snapshot
    or that snapshot file (refused when there is none). When resuming, `overrides` (settings the user gave
    explicitly) must equal the run's own, except the dataset path.
    """
    out = Path(options.out).expanduser()
    resume = options.resume
    if resume is None or resume == "auto":
        if options.run_name is not None:
            _check_run_name(options.run_name)
            candidate = out / options.run_name
            if candidate.exists() and resume is None:
                raise BadInputError(f"{candidate}: already exists; continue it with --resume auto, or pick another "
                                    "--run-name")
            candidates = [candidate] if candidate.is_dir() else []
        else:
            candidates = [r for r in numbered_runs(out) if list_snapshots(r)][-1:] if resume == "auto" else []
        for run_dir in candidates:
            if list_snapshots(run_dir):
                return _resume(run_dir, load_latest_snapshot(run_dir, warn), overrides)
        if config is None:
            raise BadInputError(f"{out}: no run with a snapshot to resume; pass --data to start a new run")
        run_dir = candidates[0] if candidates else out / (options.run_name or new_run_name(out, config, data_name))
        return RunPlan(run_dir, config, None)
    path = Path(resume).expanduser()
    if path.is_dir():
        return _resume(path, load_latest_snapshot(path, warn), overrides)
    if not path.exists():
        raise BadInputError(f"--resume {resume}: no such run directory or snapshot file")
    return _resume(path.parent, load_snapshot(path), overrides)


def _resume(run_dir: Path, ckpt: Checkpoint, overrides: dict | None) -> RunPlan:
    stored = snapshot_config(ckpt)
    overrides = dict(overrides or {})
    differences = [f"{k} {overrides[k]!r} (given) vs {_setting(stored, k)!r} (the run's)"
                   for k in sorted(overrides) if k not in RESUME_MAY_CHANGE and overrides[k] != _setting(stored, k)]
    if differences:
        raise BadInputError(f"{ckpt.path}: resuming keeps the run's settings, but " + "; ".join(differences) +
                            " (drop those options, or start a new run)")
    config = stored.replace(**{k: v for k, v in overrides.items() if k in RESUME_MAY_CHANGE})
    return RunPlan(run_dir, config, ckpt)


def _setting(config: TrainConfig, key: str):
    """A setting by name; 'loss.r1_gamma' reaches into the loss config."""
    value = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def write_run_config(run_dir: Path, config: TrainConfig, options: RunOptions) -> None:
    """`config.json`: the training config and the options of the invocation that started the run."""
    run_dir.mkdir(parents=True, exist_ok=True)
    document = {"train": config.to_dict(), "run": {k: v for k, v in vars(options).items() if k != "metrics"},
                "metrics": vars(options.metrics)}
    atomic_write_text(run_dir / CONFIG_FILE, json.dumps(document, indent=1, sort_keys=True) + "\n")


def _check_run_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise BadInputError(f"--run-name {name!r}: expected a plain folder name")
