"""Timing `dataset synth`: rendering throughput on the device and PNG encoding throughput of the writer pool."""

from __future__ import annotations

import concurrent.futures
import os
import time
from dataclasses import dataclass

import torch

from next3d.data.head_render import SynthRenderer
from next3d.data.image_io import encode_png
from next3d.data.scene import sample_scenes


@dataclass(frozen=True)
class SynthBenchResult:
    """Images per second of each stage; a run overlaps them, so it goes at about the slower one."""

    device: str
    resolution: int
    supersample: int
    batch: int
    images: int
    sample_images_per_second: float   # scene sampling on the CPU
    render_images_per_second: float   # posing, rasterizing, shading on the device
    encode_images_per_second: float   # PNG encoding with `workers` threads
    workers: int

    @property
    def expected_images_per_second(self) -> float:
        """Rendering and encoding overlap; sampling does not."""
        slowest = min(self.render_images_per_second, self.encode_images_per_second)
        return 1.0 / (1.0 / self.sample_images_per_second + 1.0 / slowest)


def bench_synth(head, resolution: int = 256, batch: int = 32, batches: int = 8, device="cpu",
                supersample: int = 2, workers: int | None = None) -> SynthBenchResult:
    """Time `batches` batches after one warm-up batch (which builds kernels)."""
    device = torch.device(device)
    workers = workers or min(8, os.cpu_count() or 1)
    renderer = SynthRenderer(head, resolution, supersample, device)
    renderer.render(sample_scenes(0, list(range(batch)), head))
    sample_time = render_time = 0.0
    images = []
    for b in range(batches):
        t0 = time.perf_counter()
        scenes = sample_scenes(1, list(range(b * batch, (b + 1) * batch)), head)
        t1 = time.perf_counter()
        images.append(renderer.render(scenes))  # returns CPU tensors: includes the device sync and copy
        t2 = time.perf_counter()
        sample_time, render_time = sample_time + t1 - t0, render_time + t2 - t1
    pixels = [img.numpy() for batch_images in images for img in batch_images]
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(encode_png, pixels))
    encode_time = time.perf_counter() - t0
    n = batches * batch
    return SynthBenchResult(str(device), resolution, supersample, batch, n, n / sample_time, n / render_time,
                            n / encode_time, workers)
