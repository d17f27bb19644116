"""GPU check of next3d.raster: build the CUDA extension, run the raster tests, run the benchmark.

Run from the repository root on the GPU machine:  PYTHONUNBUFFERED=1 python3 tools/gpu/raster_check.py
Logs go to $OUT (default ./out/raster_check): build.log, pytest.log, bench.txt, summary.json.
Exit status 0 only when the extension built and every raster test passed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def run(cmd: list[str], log: Path, timeout: int) -> tuple[int, str]:
    """Run a command from the repo root, tee its output to `log`; (exit status, output)."""
    print(f"$ {' '.join(cmd)}", flush=True)
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        status, text = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        status, text = 124, f"{exc.stdout or ''}{exc.stderr or ''}\nTIMEOUT after {timeout} s"
    log.write_text(text)
    print(text[-6000:], flush=True)
    print(f"-> exit {status} in {time.time() - t0:.1f} s", flush=True)
    return status, text


def kernel_profile() -> str:
    """Per-kernel GPU times of the CUDA rasterizer on the 4 plane views (default head, else an icosphere)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from next3d.raster import plane_views, rasterize
    from next3d.raster.bench import head_scene, sphere_scene

    text = ""
    for batch in (1, 8):
        try:
            scene = head_scene(batch, torch.device("cuda"))
        except Exception as exc:  # noqa: BLE001 - the head asset may be missing: profile a sphere instead
            text += f"(default head unavailable: {exc})\n"
            scene = sphere_scene(batch, torch.device("cuda"))
        views = plane_views(scene.world)
        for _ in range(20):
            rasterize(views.clip, scene.faces, 256, cull=views.cull, check=False)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(50):
                rasterize(views.clip, scene.faces, 256, cull=views.cull, check=False)
            torch.cuda.synchronize()
        text += f"--- {scene.name}, batch {batch}, 4 views at 256^2, 50 calls ---\n"
        text += prof.key_averages().table(sort_by="device_time_total", row_limit=12) + "\n"
    return text


def main() -> int:
    out = Path(os.environ.get("OUT") or ROOT / "out" / "raster_check")
    out.mkdir(parents=True, exist_ok=True)
    import torch

    summary: dict = {"torch": torch.__version__, "cuda": torch.version.cuda,
                     "device": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    print(json.dumps(summary), flush=True)

    from next3d.raster.cuda_backend import cuda_extension

    t0 = time.time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = cuda_extension()
    summary["build_s"] = round(time.time() - t0, 1)
    summary["built"] = module is not None
    build_text = "\n".join(str(w.message) for w in caught) or "built: " + str(getattr(module, "__file__", module))
    for log in Path(os.path.expanduser("~/.cache/next3d/torch_extensions")).glob("next3d_raster-*/build_error.log"):
        build_text += f"\n--- {log} ---\n" + log.read_text()
    (out / "build.log").write_text(build_text)
    print(f"build: {summary['built']} in {summary['build_s']} s\n{build_text[-4000:]}", flush=True)

    tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_raster_*.py"))
    status, text = run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *tests],
                       out / "pytest.log", timeout=420)
    summary["pytest_exit"] = status
    summary["pytest_tail"] = text.strip().splitlines()[-1] if text.strip() else ""

    bench_text = ""
    for args in (["--res", "256", "--batch", "1,8"], ["--res", "64", "--batch", "1", "--repeat", "50"]):
        status_b, text_b = run([sys.executable, "-m", "next3d", "bench", "raster", "--device", "cuda", *args],
                               out / "bench_tmp.txt", timeout=240)
        bench_text += f"$ bench raster {' '.join(args)}  (exit {status_b})\n{text_b}\n"
    if "default head" not in bench_text:
        _, text_b = run([sys.executable, "-m", "next3d", "bench", "raster", "--device", "cuda", "--mesh", "sphere"],
                        out / "bench_tmp.txt", timeout=240)
        bench_text += f"$ bench raster --mesh sphere\n{text_b}\n"
    (out / "bench_tmp.txt").unlink(missing_ok=True)
    if summary["built"]:
        try:
            profile = kernel_profile()
        except Exception as exc:  # noqa: BLE001 - profiling is informative only
            profile = f"profiling failed: {type(exc).__name__}: {exc}"
        (out / "profile.txt").write_text(profile)
        print(profile, flush=True)
    (out / "bench.txt").write_text(bench_text)
    summary["bench"] = bench_text
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    ok = summary["built"] and summary["pytest_exit"] == 0
    print(f"RASTER CHECK {'PASSED' if ok else 'FAILED'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
