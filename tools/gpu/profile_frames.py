"""Where the render worker's wall time goes: per update kind, the median wall ms and its host-side phases
(mapping lookup, camera/head tensors + stage replays, picture to the host), then a torch.profiler table of
camera-only frames (host ops and synchronizations around the replayed stages, which `bench generator` does
not see). One process, so `fastest` compiles once.

Run on a CUDA machine from the repo root:
`python3 tools/gpu/profile_frames.py [checkpoint] [precision] [frames]` (default builtin:paper-random fast 50).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from next3d.capture.frame_bench import UPDATES  # noqa: E402
from next3d.capture.render_args import RenderArgs  # noqa: E402
from next3d.capture.renderer import Renderer  # noqa: E402


def main(checkpoint: str = "builtin:paper-random", precision: str = "fast", frames: str = "50") -> None:
    renderer = Renderer(device="cuda")
    base = RenderArgs(checkpoint=checkpoint, precision=precision, device="cuda")
    count = int(frames)
    print(f"{checkpoint} {precision}: median ms over {count} frames (host phases: mapping = latent lookup, "
          "synthesis = label/head tensors + change detection + graph launches, picture = uint8 + copy + wait)")
    for name, change in UPDATES.items():
        walls, phases = [], []
        for i in range(count + 5):
            args = base.with_(**change(i))
            start = time.perf_counter()
            result = renderer.render(args)
            wall = (time.perf_counter() - start) * 1e3
            if result.error:
                raise SystemExit(f"{name}: {result.error}")
            if i >= 5:
                walls.append(wall)
                phases.append((result.mapping_ms, result.synthesis_ms, result.display_ms))
        mapping, synthesis, picture = np.median(np.array(phases), axis=0)
        print(f"  {name:11s} wall {np.median(walls):6.2f} (p95 {np.percentile(walls, 95):6.2f})  mapping "
              f"{mapping:5.2f}  synthesis {synthesis:5.2f}  picture {picture:5.2f}  stages {result.stages_ran}")

    camera = UPDATES["camera"]
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for i in range(20):
            renderer.render(base.with_(**camera(i)))
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=25, max_name_column_width=60))


if __name__ == "__main__":
    main(*sys.argv[1:])
