"""`python -m next3d bench ...`: benchmarks that print timings (speed is shown here, never asserted in tests)."""

from __future__ import annotations

import click

from next3d.errors import BadInputError


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    """'1,8' -> (1, 8); one clear error for anything but comma-separated positive integers."""
    try:
        sizes = tuple(int(b) for b in text.split(","))
    except ValueError:
        raise BadInputError(f"--batch {text!r}: expected comma-separated integers such as 1,8") from None
    if not sizes or min(sizes) < 1:
        raise BadInputError(f"--batch {text!r}: batch sizes must be >= 1")
    return sizes


@click.group()
def bench() -> None:
    """Time parts of the pipeline and print a table."""


@bench.command("raster")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--res", "resolution", default=256, show_default=True, type=click.IntRange(1, 4096),
              help="Plane resolution (square).")
@click.option("--batch", "batches", default="1,8", show_default=True, help="Comma-separated batch sizes.")
@click.option("--repeat", default=None, type=click.IntRange(1), help="Timed calls per row (default: by backend).")
@click.option("--mesh", default="head", show_default=True, type=click.Choice(["head", "sphere"]),
              help="The default head, or a 20k-face icosphere.")
def raster(device: str, resolution: int, batches: str, repeat: int | None, mesh: str) -> None:
    """Rasterize the 4 tri-plane views: CUDA kernel vs PyTorch reference, ms per call."""
    from next3d.raster.bench import bench_raster, format_table
    from next3d.utils.device import resolve_device

    sizes = parse_batch_sizes(batches)
    dev = resolve_device(device)
    name, rows = bench_raster(dev, resolution, sizes, repeat, mesh)
    click.echo(format_table(name, dev, rows))


@bench.command("generator")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--preset", default="paper", show_default=True, type=click.Choice(["tiny", "small", "paper"]))
@click.option("--modes", default="fp32,fast", show_default=True,
              help="Comma-separated: fp32 (reference), fast, bf16, fp16, graphs-fp32, graphs-bf16, graphs-fp16.")
@click.option("--repeat", default=20, show_default=True, type=click.IntRange(1))
def generator(device: str, preset: str, modes: str, repeat: int) -> None:
    """ms per frame for new-latent, expression-change and camera-only updates, and per stage."""
    from next3d.networks.bench import bench_generator, format_table
    from next3d.networks.inference import InferenceMode
    from next3d.utils.device import resolve_device

    names = tuple(m.strip() for m in modes.split(",") if m.strip())
    for name in names:
        InferenceMode.named(name)  # validates
    dev = resolve_device(device)
    click.echo(format_table(preset, dev, bench_generator(dev, preset, names, repeat=repeat)))


@bench.command("frames")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--ckpt", default="builtin:paper-random", show_default=True,
              help="Generator: a checkpoint, a run directory or builtin:tiny-random|small-random|paper-random.")
@click.option("--precisions", default="fp32,fast", show_default=True, help="Comma-separated: fp32, fast, fastest.")
@click.option("--repeat", default=50, show_default=True, type=click.IntRange(1))
def frames(device: str, ckpt: str, precisions: str, repeat: int) -> None:
    """The visualizer's render worker end to end (args in, picture on the host out), per kind of update."""
    from next3d.capture.frame_bench import bench_frames, format_table
    from next3d.capture.render_args import PRECISIONS

    names = [p.strip() for p in precisions.split(",") if p.strip()]
    unknown = [p for p in names if p not in PRECISIONS]
    if unknown or not names:
        raise BadInputError(f"--precisions {precisions!r}: expected some of {', '.join(PRECISIONS)}")
    rows = [bench_frames(ckpt, device, name, repeat=repeat) for name in names]
    click.echo(format_table(ckpt, device, rows))
