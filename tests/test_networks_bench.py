"""`next3d bench generator`: every mode's error is measured against the fp32 reference, whatever modes are asked."""

import torch

from next3d.networks.bench import bench_generator, format_table


def test_errors_are_against_fp32_even_when_fp32_is_not_benchmarked():
    torch.set_num_threads(1)
    device = torch.device("cpu")
    alone = bench_generator(device, "tiny", ["bf16"], repeat=1, warmup=0)
    both = bench_generator(device, "tiny", ["fp32", "bf16"], repeat=1, warmup=0)
    assert both[0].max_abs_error == 0.0
    assert alone[0].max_abs_error > 1e-3  # bf16 rounding shows against the fp32 image
    assert abs(alone[0].max_abs_error - both[1].max_abs_error) < 1e-6  # the same seed, inputs and reference
    table = format_table("tiny", device, alone)
    assert "bf16" in table and "vs fp32" in table
