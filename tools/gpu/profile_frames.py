"""Where the render worker's wall time goes for camera-only frames: host-side ops and synchronizations around
the replayed stages (the part `bench generator` does not see).

Run on a CUDA machine from the repo root:
`python3 tools/gpu/profile_frames.py [checkpoint] [precision] [frames]` (default builtin:paper-random fast 20).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from next3d.capture.render_args import RenderArgs  # noqa: E402
from next3d.capture.renderer import Renderer  # noqa: E402


def main(checkpoint: str = "builtin:paper-random", precision: str = "fast", frames: str = "20") -> None:
    renderer = Renderer(device="cuda")
    base = RenderArgs(checkpoint=checkpoint, precision=precision)
    for i in range(10):
        renderer.render(base.with_(yaw=0.2 * (i % 2)))
    count = int(frames)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        for i in range(count):
            result = renderer.render(base.with_(yaw=0.2 * (i % 2)))
        wall = (time.perf_counter() - start) * 1e3 / count
    print(f"{checkpoint} {precision}: {wall:.2f} ms per camera frame (profiled); "
          f"last: mapping {result.mapping_ms:.2f}, synthesis {result.synthesis_ms:.2f}, "
          f"picture {result.display_ms:.2f}, total {result.total_ms:.2f} ms")
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=25, max_name_column_width=60))


if __name__ == "__main__":
    main(*sys.argv[1:])
