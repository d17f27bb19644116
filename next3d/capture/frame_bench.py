"""`bench frames`: the visualizer's render worker end to end, per kind of update: RenderArgs in, the frame's
(H, W, 3) uint8 picture in host memory out (what the GUI thread uploads to its texture). Wall-clock ms, so
the mapping network, change detection, stage replays, the uint8 conversion and the device-to-host copy all count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from next3d.capture.render_args import RenderArgs
from next3d.capture.renderer import Renderer
from next3d.errors import Next3DError

# Each update alternates between two values so that exactly the intended stages re-run every frame.
UPDATES = {
    "new latent": lambda i: dict(latent_x=float(i % 2), jaw=(0.1 * (i % 2), 0.0, 0.0), yaw=0.2 * (i % 2)),
    "expression": lambda i: dict(jaw=(0.1 * (i % 2), 0.0, 0.0), yaw=0.2 * (i % 2)),
    "camera": lambda i: dict(yaw=0.2 * (i % 2)),
}


@dataclass
class FrameTimes:
    precision: str
    median_ms: dict[str, float]
    p95_ms: dict[str, float]
    stages_ran: dict[str, tuple[str, ...]]
    resolution: int


def bench_frames(checkpoint: str, device: str, precision: str, repeat: int = 50, warmup: int = 5) -> FrameTimes:
    """Median and 95th-percentile wall ms per update kind through `Renderer.render` (raises on a render error)."""
    renderer = Renderer(device=device)
    base = RenderArgs(checkpoint=checkpoint, precision=precision, device=device)
    median, p95, ran = {}, {}, {}
    resolution = 0
    for name, change in UPDATES.items():
        times = []
        for i in range(warmup + repeat):
            start = time.perf_counter()
            result = renderer.render(base.with_(**change(i)))
            elapsed = (time.perf_counter() - start) * 1e3
            if result.error:
                raise Next3DError(f"{precision}: {result.error}")
            if i >= warmup:
                times.append(elapsed)
        median[name], p95[name] = float(np.median(times)), float(np.percentile(times, 95))
        ran[name] = result.stages_ran
        resolution = result.image.shape[0]
    return FrameTimes(precision, median, p95, ran, resolution)


def format_table(checkpoint: str, device: str, rows: list[FrameTimes]) -> str:
    lines = [f"render worker end to end: {checkpoint} on {device}, wall ms (median / p95), picture on the host",
             f"{'precision':10s} " + " ".join(f"{name:>16s}" for name in UPDATES) + "  stages re-run"]
    for row in rows:
        cells = " ".join(f"{row.median_ms[n]:8.2f} / {row.p95_ms[n]:5.2f}" for n in UPDATES)
        stages = "; ".join("+".join(row.stages_ran[n]) for n in UPDATES)
        lines.append(f"{row.precision:10s} {cells}  {stages} ({row.resolution}^2)")
    return "\n".join(lines)
