"""GPU training throughput of the `small` preset: img/s, sec/kimg and peak memory, plus a torchrun smoke run.

Run from the repository root on the GPU machine (results under $OUT, default ./out/train_bench):
    PYTHONUNBUFFERED=1 PYTHONPATH=. python3 tools/gpu/train_bench.py [--images 2000] [--ticks 4] [--batch 32]
Steps: (1) `dataset synth` renders a 128^2 dataset on the GPU into a temporary folder (timed); (2) a timed
training run through `next3d.train.train` (the real loop: all phases, lazy regularization, EMA, snapshot),
one warm-up tick then --ticks measured ticks of 16 steps (one full Greg/Dreg cycle each); (3) `python -m
torch.distributed.run --nproc_per_node 1 -m next3d train ...` for a few steps. Prints and writes summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

STEPS_PER_TICK = 16  # lcm of the density (4) and R1 (16) intervals: every tick does the same work


def run(cmd: list[str], timeout: int) -> tuple[int, str, float]:
    print(f"$ {' '.join(cmd)}", flush=True)
    start = time.time()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
        status, text = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        status, text = 124, f"{exc.stdout or ''}{exc.stderr or ''}\nTIMEOUT after {timeout} s"
    seconds = time.time() - start
    print(text[-3000:], flush=True)
    print(f"-> exit {status} in {seconds:.1f} s", flush=True)
    return status, text, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--res", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--ticks", type=int, default=4)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--device", default="cuda", help="cuda (the benchmark); cpu only to smoke-test this script")
    args = parser.parse_args()
    out = Path(os.environ.get("OUT", "out/train_bench"))
    out.mkdir(parents=True, exist_ok=True)
    import torch

    summary: dict = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
                     "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"}
    print(json.dumps(summary), flush=True)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: this benchmark needs the GPU machine", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="next3d-train-bench-"))
    try:
        data = work / f"synth{args.res}"
        status, _, seconds = run([sys.executable, "-m", "next3d", "dataset", "synth", "--out", str(data), "--n",
                                  str(args.images), "--res", str(args.res), "--device", args.device], timeout=400)
        summary["synth"] = {"images": args.images, "seconds": round(seconds, 1), "status": status}
        if status:
            return status

        from next3d.networks.presets import preset_config
        from next3d.train import RunOptions, TrainConfig, train
        from next3d.train.log import read_log

        config = TrainConfig(data=str(data), generator=preset_config(args.preset), batch=args.batch,
                             precision=args.precision)
        tick_kimg = STEPS_PER_TICK * args.batch / 1000
        options = RunOptions(out=str(work / "runs"), run_name="bench", kimg=tick_kimg * (args.ticks + 1),
                             snap_kimg=1000.0, tick_kimg=tick_kimg, device=args.device, workers=args.workers,
                             grid_seeds=4, grid_views=5, max_minutes=6.0)
        start = time.time()
        result = train(config, options)
        wall = time.time() - start
        ticks = [e for e in read_log(result.run_dir / "log.jsonl") if e["event"] == "tick"]
        measured = ticks[1:] or ticks
        summary["train"] = {
            "preset": args.preset, "batch": args.batch, "precision": args.precision, "steps": result.state.step,
            "img_per_sec": round(statistics.median(t["img_per_sec"] for t in measured), 2),
            "sec_per_kimg": round(statistics.median(t["sec_per_kimg"] for t in measured), 2),
            "warmup_tick_sec_per_kimg": round(ticks[0]["sec_per_kimg"], 2),
            "peak_mem_gb": round(max(t.get("peak_mem_gb", 0) for t in ticks), 2),
            "wall_sec": round(wall, 1), "finished": result.finished,
            "last_losses": {k: round(v, 4) for k, v in ticks[-1].items() if k.startswith(("loss", "scores", "r1"))},
        }
        shutil.copy(result.run_dir / "log.jsonl", out / "log.jsonl")
        for grid in result.run_dir.glob("grid-*.png"):
            shutil.copy(grid, out / grid.name)
        print(json.dumps(summary["train"]), flush=True)

        status, text, seconds = run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                                     "--nproc_per_node=1", "-m", "next3d", "train", "--data", str(data), "--out",
                                     str(work / "runs"), "--run-name", "torchrun", "--preset", args.preset,
                                     "--batch", str(args.batch), "--kimg", str(4 * args.batch / 1000), "--snap-kimg",
                                     "1000", "--device", args.device, "--no-progress"], timeout=300)
        summary["torchrun_1gpu"] = {"status": status, "seconds": round(seconds, 1),
                                    "snapshots": len(list((work / "runs" / "torchrun").glob("snapshot-*")))}
    finally:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary, indent=1), flush=True)
    return 0 if summary.get("torchrun_1gpu", {}).get("status") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
