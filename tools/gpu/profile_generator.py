"""Where the generator's GPU time goes, per stage: kernel count, GPU time, and the top kernels.

Run on a CUDA machine from the repo root: `python3 tools/gpu/profile_generator.py [preset] [mode]` (eager stages;
mode as in `InferenceMode.named`, default TF32 fp32).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from next3d.head import HeadParams, load_default_head  # noqa: E402
from next3d.networks.generator import Next3DGenerator  # noqa: E402
from next3d.networks.inference import InferenceGenerator, InferenceMode, apply_backend_flags  # noqa: E402
from next3d.networks.presets import preset_config  # noqa: E402
from next3d.render import camera  # noqa: E402


def main(preset: str = "paper", mode_name: str = "", top: int = 18) -> None:
    mode = InferenceMode.named(mode_name) if mode_name else InferenceMode(tf32=True)
    apply_backend_flags(mode)
    torch.manual_seed(0)
    head = load_default_head()
    G = Next3DGenerator(preset_config(preset), head).eval().requires_grad_(False).cuda()
    runner = InferenceGenerator(G, mode)
    c = camera.make_label(camera.orbit_pose(0.3, 0.1)).cuda()
    hp = HeadParams.neutral(head, 1, device="cuda")
    with torch.no_grad():
        ws = G.mapping(torch.randn(1, G.z_dim, device="cuda"), c)
        for _ in range(3):
            lat = runner.latent_stage(ws)
            pl = runner.head_stage(lat, ws, hp)
            runner.camera_stage(pl, ws, c)
        torch.cuda.synchronize()
        stages = {"latent": lambda: runner.latent_stage(ws), "head": lambda: runner.head_stage(lat, ws, hp),
                  "camera": lambda: runner.camera_stage(pl, ws, c)}
        for name, fn in stages.items():
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                fn()
                torch.cuda.synchronize()
            events = [e for e in prof.key_averages() if e.device_type.name == "CUDA"]
            total = sum(e.self_device_time_total for e in events) / 1e3
            count = sum(e.count for e in events)
            print(f"== {preset} {name}: {count} kernels, {total:.2f} ms GPU time")
            for e in sorted(events, key=lambda e: -e.self_device_time_total)[:top]:
                print(f"  {e.self_device_time_total / 1e3:7.3f} ms  x{e.count:<4d} {e.key[:110]}")


if __name__ == "__main__":
    main(*sys.argv[1:])
