"""`next3d bench frames`: each kind of update re-runs exactly its stages, and the table reports them."""

import torch

from next3d.capture.frame_bench import UPDATES, bench_frames, format_table


def test_each_update_kind_reruns_exactly_its_stages():
    torch.set_num_threads(1)
    row = bench_frames("builtin:tiny-random", "cpu", "fp32", repeat=2, warmup=1)
    assert row.stages_ran == {"new latent": ("latent", "head", "camera"), "expression": ("head", "camera"),
                              "camera": ("camera",)}
    assert all(row.median_ms[name] > 0 and row.p95_ms[name] >= row.median_ms[name] for name in UPDATES)
    table = format_table("builtin:tiny-random", "cpu", [row])
    assert "fp32" in table and "head+camera" in table and "(64^2)" in table
