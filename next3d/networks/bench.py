"""`bench generator`: ms per frame for the three kinds of update the visualizer makes, per stage.

new latent = mapping + latent + head + camera stages; expression change = head + camera stages;
camera only = camera stage; each through the renderer the visualizer uses (change detection included).
Median of device-event timings after warm-up, random weights, batch 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from next3d.head import HeadParams, load_default_head
from next3d.networks.generator import Next3DGenerator, RenderOptions
from next3d.networks.inference import make_renderer
from next3d.networks.presets import preset_config
from next3d.render import camera
from next3d.utils.timing import median_ms


@dataclass
class StageTimes:
    """Median ms of each stage and of each kind of update, for one inference mode."""

    mode: str
    stage_ms: dict[str, float]
    update_ms: dict[str, float]
    max_abs_error: float | None  # vs the fp32 reference image, in [-1, 1] units
    failure: str | None = None  # why the mode could not run


@torch.no_grad()
def bench_generator(device: torch.device, preset: str = "paper", modes=("fp32", "fast"), repeat: int = 20,
                    warmup: int = 3, seed: int = 0) -> list[StageTimes]:
    """Time each mode's renderer (make_renderer: stage caching, CUDA graphs if the mode says so) on one
    randomly initialised generator, alternating inputs so that exactly the intended stages re-run.

    Per stage: camera = camera-only update; head = expression - camera; latent = new latent - expression
    - mapping. Errors are measured against the fp32 eager image (rendered once, untimed).
    """
    torch.manual_seed(seed)
    head = load_default_head()
    G = Next3DGenerator(preset_config(preset), head).eval().requires_grad_(False).to(device)
    zs = torch.randn(2, 1, G.z_dim, device=device)
    cams = [camera.make_label(camera.orbit_pose(yaw, 0.1)).to(device) for yaw in (0.3, -0.2)]
    heads = [HeadParams.neutral(head, 1, device=device) for _ in range(2)]
    heads[1].jaw[:, 0] = 0.2
    options = RenderOptions()
    reference = make_renderer(G, "fp32").render(G.mapping(zs[0], cams[0]), cams[0], heads[0], options).image.clone()
    results = []
    for mode in modes:
        renderer = make_renderer(G, mode)
        ws = [G.mapping(z, cams[0]) for z in zs]
        try:
            image = renderer.render(ws[0], cams[0], heads[0], options).image.clone()
        except Exception as exc:  # noqa: BLE001 - a mode that cannot run here is reported, the others still run
            results.append(StageTimes(str(mode), {}, {}, None, failure=f"{type(exc).__name__}: {exc}"[:200]))
            continue
        error = (image.float() - reference).abs().max().item()
        flip = iter(range(10**9))
        mapping_ms = median_ms(lambda: G.mapping(zs[0], cams[0]), device, repeat, warmup)
        new_latent = median_ms(lambda: renderer.render(G.mapping(zs[next(flip) % 2], cams[0]), cams[0], heads[0],
                                                       options), device, repeat, warmup)
        expression = median_ms(lambda: renderer.render(ws[0], cams[0], heads[next(flip) % 2], options), device,
                               repeat, warmup)
        camera_only = median_ms(lambda: renderer.render(ws[0], cams[next(flip) % 2], heads[0], options), device,
                                repeat, warmup)
        stage_ms = {"mapping": mapping_ms, "latent": max(new_latent - expression - mapping_ms, 0.0),
                    "head": max(expression - camera_only, 0.0), "camera": camera_only}
        update_ms = {"new latent": new_latent, "expression": expression, "camera only": camera_only}
        label = mode if isinstance(mode, str) else mode.label()
        results.append(StageTimes(label, stage_ms, update_ms, error))
    return results


def format_table(preset: str, device: torch.device, results: list[StageTimes]) -> str:
    """A plain-text table (ms) of updates and stages per mode, with the error vs fp32."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    lines = [f"generator '{preset}', batch 1, random weights, {name} (median ms)",
             f"{'mode':<12} {'new latent':>10} {'expression':>10} {'camera':>8} | {'mapping':>7} {'latent':>7} "
             f"{'head':>7} {'camera':>7} | max |err| vs fp32"]
    for r in results:
        if r.failure:
            lines.append(f"{r.mode:<12} failed: {r.failure}")
            continue
        u, s = r.update_ms, r.stage_ms
        lines.append(f"{r.mode:<12} {u['new latent']:>10.2f} {u['expression']:>10.2f} {u['camera only']:>8.2f} | "
                     f"{s['mapping']:>7.2f} {s['latent']:>7.2f} {s['head']:>7.2f} {s['camera']:>7.2f} | "
                     f"{r.max_abs_error:.2e}")
    return "\n".join(lines)
