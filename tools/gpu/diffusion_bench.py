"""Time of the latent diffusion prior per avatar: DDIM sampling alone, with CFG, with image guidance through
the generator (gradient w.r.t. x_t or x0), and the final render. Random weights (timing only).

Run on a CUDA machine from the repo root (diffusers installed, e.g. from carried wheels):
    python3 tools/gpu/diffusion_bench.py --preset paper --steps 50 --out $OUT/diffusion_bench.json
The prior has the seed's size (transformer width 512, depth 12; condition encoder: 256 tokens).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from next3d.diffusion import (
    ImageCondition,
    ImageGuidance,
    LatentCodec,
    LatentDiffusionPipeline,
    LatentPrior,
)
from next3d.diffusion.denoiser import DenoiserConfig
from next3d.diffusion.generator_source import GeneratorSource
from next3d.diffusion.image_encoder import ImageEncoderConfig
from next3d.diffusion.prior import PriorConfig
from next3d.head import HeadParams
from next3d.networks.inference import InferenceMode, apply_backend_flags
from next3d.render.camera import make_label, orbit_pose
from next3d.utils.atomic import atomic_write_text


def random_prior(shape: tuple[int, int], kind: str, width: int, depth: int, conditional: bool, device) -> LatentPrior:
    encoder = ImageEncoderConfig() if conditional else None
    cfg = PriorConfig(kind, "minmax", DenoiserConfig(shape[0], shape[1], width, depth, 8,
                                                     cond_dim=encoder.width if encoder else 0), encoder)
    torch.manual_seed(0)
    return LatentPrior(cfg).to(device).eval().requires_grad_(False)


def timed(fn, device, repeats: int) -> tuple[float, float]:
    """Median wall ms of fn() over `repeats` runs after one warm-up, and peak GPU memory (GiB)."""
    fn()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else 0.0
    return statistics.median(times), peak


def bench_kind(G, kind: str, args, camera, head, target, batches: list[int], row, device) -> None:
    """Rows for one latent kind: plain DDIM, DDIM + final render, guided DDIM (gradient w.r.t. x_t, x0)."""
    codec = LatentCodec(G, kind)
    render = codec.render_fn(camera, head)
    pipe = LatentDiffusionPipeline(random_prior(codec.shape, kind, args.width, args.depth, False, device), render)
    label = f"{kind} {codec.shape[0]}x{codec.shape[1]}"
    for batch in batches:
        row(f"{label}: DDIM {args.steps}", batch, lambda b=batch: pipe(b, steps=args.steps))
        row(f"{label}: DDIM {args.steps} + render", batch, lambda b=batch: render(pipe(b, steps=args.steps).latents))
    for wrt in ("x_t", "x0"):
        guidance = ImageGuidance(target, scale=1.0, resolution=args.guidance_res, wrt=wrt)
        row(f"{label}: DDIM {args.steps} guided (grad wrt {wrt})", args.guided_batch,
            lambda g=guidance: pipe(args.guided_batch, steps=args.steps, guidance=g))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batches", default="1,8", help="Avatars per sampling call, comma-separated.")
    parser.add_argument("--guided-batch", type=int, default=1)
    parser.add_argument("--guidance-res", type=int, default=256)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tf32", action="store_true", help="Allow TF32 matmuls/convolutions.")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default=None, help="Also write the rows as JSON here.")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        apply_backend_flags(InferenceMode(tf32=args.tf32))
    G = GeneratorSource(preset=args.preset).load(device)
    camera = make_label(orbit_pose(0.3, 0.1)).to(device)
    head = HeadParams.neutral(G.head, device=device)
    target = torch.zeros(1, 3, args.guidance_res, args.guidance_res, device=device)
    rows: list[dict] = []

    def row(name: str, batch: int, fn) -> None:
        ms, peak = timed(fn, device, args.repeats)
        rows.append({"case": name, "batch": batch, "ms_per_call": ms, "ms_per_avatar": ms / batch, "peak_gib": peak})
        print(f"{name:<44s} batch {batch:>2d}  {ms / batch:9.1f} ms/avatar  {ms:9.1f} ms/call  {peak:6.2f} GiB",
              flush=True)

    batches = [int(b) for b in args.batches.split(",")]
    for kind in ("wplus", "style"):
        bench_kind(G, kind, args, camera, head, target, batches, row, device)
    conditional = random_prior(LatentCodec(G, "wplus").shape, "wplus", args.width, args.depth, True, device)
    condition = ImageCondition(torch.zeros(1, 3, 256, 256, device=device))
    cfg_pipe = LatentDiffusionPipeline(conditional)
    for batch in batches:
        row(f"wplus conditional: DDIM {args.steps}, CFG 3", batch,
            lambda b=batch: cfg_pipe(b, steps=args.steps, condition=condition, cfg_scale=3.0))
    if args.out:
        info = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", "torch": torch.__version__,
                "preset": args.preset, "steps": args.steps, "tf32": args.tf32, "prior_width": args.width,
                "prior_depth": args.depth}
        atomic_write_text(args.out, json.dumps({"info": info, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
