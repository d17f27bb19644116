"""Time per inversion (photo -> latent + camera, optional pivotal tuning) at a preset, random weights.

The target is a render of a known latent from a known camera; the camera is searched (15 views) and optimised.
Timing is the point (random weights say nothing about quality), but PSNR and camera error are reported too.

Run on a CUDA machine from the repo root:
    PYTHONPATH=. python3 tools/gpu/invert_bench.py --preset small --steps 300 --pti-steps 100 --out $OUT/invert_bench.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from next3d.head import HeadParams, load_default_head
from next3d.invert.camera_fit import OrbitCamera
from next3d.invert.d_features import DiscriminatorFeatures
from next3d.invert.image_input import TargetImage
from next3d.invert.pipeline import run_inversion
from next3d.invert.settings import InversionSettings
from next3d.networks.discriminator import DualDiscriminator
from next3d.networks.generator import Next3DGenerator
from next3d.networks.presets import preset_config
from next3d.utils.atomic import atomic_write_text

TRUE_CAMERA = OrbitCamera(yaw=0.25, pitch=-0.1)


def build(preset: str, device: torch.device):
    torch.manual_seed(0)
    cfg = preset_config(preset)
    G = Next3DGenerator(cfg, load_default_head()).eval().requires_grad_(False).to(device)
    D = DualDiscriminator(cfg.discriminator()).to(device)
    return G, DiscriminatorFeatures(D)


def target_of(G, device) -> TargetImage:
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(5)).to(device)
    with torch.no_grad():
        ws = G.mapping(z, OrbitCamera().label(device), truncation_psi=0.7)
        image = G.synthesis(ws, TRUE_CAMERA.label(device), HeadParams.neutral(G.head, device=device)).image
    image = torch.round((image.clamp(-1, 1) + 1) * 127.5) / 127.5 - 1
    return TargetImage(image, torch.ones_like(image[:, :1]), "render of seed 5 (psi 0.7)")


def run(G, target, settings: InversionSettings, features) -> dict:
    device = target.image.device
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = run_inversion(G, target, settings, features=features)
    if device.type == "cuda":
        torch.cuda.synchronize()
    total = time.perf_counter() - start
    seconds = {k: round(v, 3) for k, v in result.seconds.items()}
    per_step = {phase: round(1e3 * seconds[phase] / n, 2) for phase, n in result.steps.items() if n and phase in seconds}
    return {
        "seconds_total": round(total, 3), "seconds": seconds, "steps": result.steps, "ms_per_step": per_step,
        "psnr_before": round(result.psnr_before, 2), "psnr_latent": round(result.psnr_latent, 2),
        "psnr_after": round(result.psnr_after, 2),
        "camera_error_rad": {"yaw": round(abs(result.camera.yaw - TRUE_CAMERA.yaw), 4),
                             "pitch": round(abs(result.camera.pitch - TRUE_CAMERA.pitch), 4)},
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None,
        "losses": result.feature_loss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--pti-steps", type=int, default=100)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="invert_bench.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    G, features = build(args.preset, device)
    target = target_of(G, device)
    base = InversionSettings(steps=args.steps)
    configs = {
        "warmup (5 steps, not reported)": (dataclasses.replace(base, steps=5), None),
        "w+ pixel+gradient": (base, None),
        "w pixel+gradient": (dataclasses.replace(base, latent_space="w"), None),
        "w+ pixel+gradient+D features": (base, features),
        f"w+ pixel+gradient+D features, PTI {args.pti_steps}": (dataclasses.replace(base, pti_steps=args.pti_steps),
                                                                 features),
    }
    report = {"preset": args.preset, "img_resolution": G.img_resolution,
              "neural_rendering_resolution": G.config.neural_rendering_resolution,
              "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
              "torch": torch.__version__, "weights": "random (timing only)", "runs": {}}
    for name, (settings, extractor) in configs.items():
        row = run(G, target, settings, extractor)
        if not name.startswith("warmup"):
            report["runs"][name] = row
        print(f"{name:48s} {row['seconds_total']:8.2f} s  steps {row['steps']}  ms/step {row['ms_per_step']}  "
              f"PSNR {row['psnr_before']} -> {row['psnr_latent']} -> {row['psnr_after']} dB", flush=True)
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
