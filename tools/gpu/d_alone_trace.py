"""Diagnose a fresh discriminator fine-tuning a trained generator: run the trainer's own D phases alone (G fixed)
under several settings and print, every few steps, D's loss and its logits on a fixed real and a fixed generated
batch, its gradient norm and how many gradient entries were non-finite (and replaced). With --then-g N, N full
training steps (G too) follow, printed step by step with the sizes of D's internal signals.

Usage (repo root): python3 tools/gpu/d_alone_trace.py DATASET GENERATOR [--steps N] [--then-g N] [--device cuda]
VARIANT...
Variants are '+'-joined settings: auto|fp32|bf16 (precision), notf32, nobench, b16, w0 (no loader workers),
dexp (expression label), mirror, nor1.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from next3d.networks.presets import preset_config
from next3d.train import LossConfig, RunOptions, TrainConfig, distributed
from next3d.train import loop as train_loop
from next3d.train.data import to_device
from next3d.train.phases import head_state


def run_variant(variant: str, data: str, generator: str, steps: int, device: str, out: str, then_g: int = 0,
                lr_g: float = 0.0025) -> None:
    flags = set(variant.split("+"))
    precision = next((p for p in ("fp32", "bf16", "fp16") if p in flags), "auto")
    batch = 16 if "b16" in flags else 32
    torch.backends.cuda.matmul.allow_tf32 = "notf32" not in flags
    torch.backends.cudnn.allow_tf32 = "notf32" not in flags
    cfg = TrainConfig(data=data, generator=preset_config("small"), batch=batch, precision=precision,
                      init_generator=generator, xflip="mirror" in flags, d_expression="dexp" in flags, lr_g=lr_g,
                      loss=LossConfig(blur_fade_kimg=0.0, r1_gamma=0.0 if "nor1" in flags else 1.0))
    opts = RunOptions(out=out, run_name=variant.replace("+", "_"), kimg=1, device=device,
                      workers=0 if "w0" in flags else 8, progress=False)
    ctx = distributed.setup(device, 1)
    nonfinite = []
    original = train_loop.sanitize_gradients

    def counting(module):
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        nonfinite.append(sum(int((~torch.isfinite(g)).sum()) for g in grads))
        original(module)

    train_loop.sanitize_gradients = counting
    try:
        T = train_loop.Trainer(cfg, opts, None, ctx)
        if "nobench" in flags:
            torch.backends.cudnn.benchmark = False
        p, D = T.phases, T.nets.D
        fixed_real = to_device(next(T.reals), ctx.device)
        torch.manual_seed(123)
        fixed_fake = p.fake_conditions(fixed_real)
        with torch.no_grad():
            ws = T.nets.G.mapping(fixed_fake.z, fixed_fake.c)
            fake_out = T.nets.G.synthesis(ws, fixed_fake.c, head_state(T.nets.G, fixed_fake.head, batch, ctx.device),
                                          p.options)
            real_image, real_raw = p.real_inputs(fixed_real, 0.0)

        def probe():
            with torch.no_grad():
                lr = D(real_image, real_raw, p.d_label(fixed_real.label, fixed_real.head)).float().flatten()
                lf = D(fake_out.image, fake_out.image_raw, p.d_label(fixed_fake.c, fixed_fake.head)).float().flatten()
            acc = float(((lr > 0).float().mean() + (lf < 0).float().mean()) / 2)
            return float(lr.mean()), float(lf.mean()), acc

        print(f"== {variant}: precision {precision}, batch {batch}, c_dim {D.c_dim}, "
              f"fp16 blocks {sum(1 for m in D.modules() if getattr(m, 'use_fp16', False))}", flush=True)
        t0 = time.time()
        for step in range(steps):
            real = to_device(next(T.reals), ctx.device)
            T.state = type(T.state)(step, step * batch)
            T._phase("Dmain", 1, D, T.opts.D, [real], lambda r, g, s: p.d_main(r, 0.0, 0.5, g, s))
            gnorm = math.sqrt(sum(float(q.grad.float().square().sum()) for q in D.parameters() if q.grad is not None))
            if cfg.loss.r1_gamma > 0:
                T._phase("Dreg", 16, D, T.opts.D, [real], lambda r, g, s: p.d_r1(r, 0.0, g, s))
            if step % 25 == 24 or step == 0:
                stats = T.stats.collect(ctx)
                lr, lf, acc = probe()
                wnorm = math.sqrt(sum(float(q.float().square().sum()) for q in D.parameters()))
                print(f"{step + 1:4d} loss_D {stats.get('loss_D', float('nan')):.3f} "
                      f"r1 {stats.get('r1_penalty', float('nan')):.4f} probe real {lr:+.3f} fake {lf:+.3f} "
                      f"acc {acc:.2f} |g| {gnorm:.3g} |w| {wnorm:.1f} nonfinite {sum(nonfinite)} "
                      f"({time.time() - t0:.0f} s)", flush=True)
        signals = {}
        hooks = [module.register_forward_hook(lambda m, i, o, name=name: signals.__setitem__(name, o))
                 for name, module in (("cmap", D.mapping), ("features", D.b4.out), ("b8", D.b8), ("b32", D.b32))]
        for step in range(steps, steps + then_g):
            T.state = type(T.state)(step, step * batch)
            T._train_step()
            lr, lf, acc = probe()
            stats = T.stats.collect(ctx)
            size = {k: float((v[0] if isinstance(v, tuple) else v).float().abs().max()) for k, v in signals.items()}
            v_max = max(float(st["exp_avg_sq"].max()) for st in T.opts.D.state.values() if "exp_avg_sq" in st)
            print(f"G{step + 1:4d} loss_D {stats.get('loss_D', float('nan')):.3f} loss_G {stats.get('loss_G', 0):.3f} "
                  f"probe real {lr:+.3f} fake {lf:+.3f} acc {acc:.2f} |max| "
                  + " ".join(f"{k} {v:.3g}" for k, v in size.items())
                  + f" adam_v_max {v_max:.3g} nonfinite {sum(nonfinite)}", flush=True)
        for hook in hooks:
            hook.remove()
    finally:
        train_loop.sanitize_gradients = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data")
    parser.add_argument("generator")
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default="out/d_alone")
    parser.add_argument("--then-g", type=int, default=0, help="full training steps (G too) after the D-only ones")
    parser.add_argument("--lr-g", type=float, default=0.0025)
    args = parser.parse_args()
    for variant in args.variants:
        run_variant(variant, args.data, args.generator, args.steps, args.device, args.out, args.then_g, args.lr_g)


if __name__ == "__main__":
    main()
