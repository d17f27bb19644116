"""`python -m next3d dataset ...`: make (synth), import (pack), inspect (info) and validate (check) datasets."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def dataset() -> None:
    """Datasets in the EG3D layout (images + dataset.json with camera labels and head parameters)."""


@dataset.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Summarize the usable entries even if some are bad.")
def info(path: Path, skip_bad: bool) -> None:
    """Counts, resolution, head data and the camera yaw/pitch distribution of a dataset."""
    from next3d.data.summary import format_summary, summarize
    from next3d.data.validate import open_dataset

    click.echo(format_summary(summarize(open_dataset(path, skip_bad=skip_bad, progress=True))))


@dataset.command()
@click.argument("path", type=click.Path(path_type=Path))
def check(path: Path) -> None:
    """Validate every entry (decoding every image and vertex file); list all problems, exit 1 if any."""
    from next3d.data.validate import open_dataset
    from next3d.errors import BadInputError

    opened = open_dataset(path, skip_bad=True, verify_pixels=True, progress=True)
    for problem in opened.problems:
        click.echo(f"{path}: {problem}", err=True)
    if opened.problems:
        raise BadInputError(f"{path}: {opened.skipped} bad entr{'y' if opened.skipped == 1 else 'ies'} of "
                            f"{opened.total_entries} (listed above)")
    click.echo(f"{path}: ok, {len(opened.index)} entries, {opened.stored_resolution}x{opened.stored_resolution}")


@dataset.command()
@click.option("--images", required=True, type=click.Path(path_type=Path), help="Folder of PNG/JPEG images.")
@click.option("--cameras", required=True, type=click.Path(path_type=Path),
              help="cameras.json, or a folder of per-image .json/.npy/.txt camera files.")
@click.option("--head-params", type=click.Path(path_type=Path), default=None,
              help="params.json, or a folder of per-image .json/.npy head-parameter files.")
@click.option("--vertices", type=click.Path(path_type=Path), default=None,
              help="Folder of per-image .npy (V, 3) vertex files.")
@click.option("--head", "head_name", default="builtin", show_default=True,
              help="Head model the parameters belong to: 'builtin' or a head model file.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder, or a .zip.")
@click.option("--resolution", type=int, default=None, help="Resize every image to this size (PNG).")
@click.option("--skip-bad", is_flag=True, help="Drop bad entries (and count them) instead of stopping.")
@click.option("--force", is_flag=True, help="Replace an existing output.")
def pack(images, cameras, head_params, vertices, head_name, out, resolution, skip_bad, force) -> None:
    """Pack images + cameras (+ head parameters or vertices) fitted elsewhere into the EG3D layout."""
    from next3d.data.head_link import head_section_for, load_head
    from next3d.data.pack import PackSources, pack_dataset

    head = load_head(head_name) if (head_params is not None or vertices is not None) else None
    report = pack_dataset(PackSources(images, cameras, head_params, vertices), out,
                          head_section=head_section_for(head) if head_params is not None else None,
                          vertex_count=None if head is None else head.num_vertices,
                          resolution=resolution, skip_bad=skip_bad, force=force)
    for message in report.problems:
        click.echo(f"skipped: {message}", err=True)
    skipped = f", skipped {len(report.problems)} bad" if report.problems else ""
    click.echo(f"wrote {report.out}: {report.written} entries at {report.resolution}x{report.resolution}{skipped}")


@dataset.command()
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder (or .zip).")
@click.option("--n", "count", default=20000, show_default=True, help="Number of images.")
@click.option("--res", "resolution", default=256, show_default=True, help="Image resolution (square).")
@click.option("--seed", default=0, show_default=True, help="Image i depends only on (seed, i).")
@click.option("--batch", default=32, show_default=True, help="Images rendered at once (part of the settings).")
@click.option("--supersample", type=click.IntRange(1, 8), default=None,
              help="Render at this multiple, then downsample (default: 2 on CUDA, 1 on the CPU).")
@click.option("--head", "head_name", default="builtin", show_default=True, help="'builtin' or a head model file.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--zip", "as_zip", is_flag=True, help="Write OUT.zip instead of a folder.")
@click.option("--force", is_flag=True, help="Replace an existing finished dataset.")
@click.option("--stop-after", type=int, default=None, help="Stop after writing this many images (resume later).")
@click.option("--workers", type=int, default=None, help="PNG writer threads (default: min(8, CPUs)).")
@click.option("--bench", is_flag=True, help="Print throughput (images/s) at the end.")
def synth(out, count, resolution, seed, batch, supersample, head_name, device, as_zip, force, stop_after, workers,
          bench) -> None:
    """Render random heads (identity, expression, gaze, skin, hair, light, FFHQ-like cameras) into a dataset.

    Rerunning the same command after an interruption continues where it stopped.
    """
    from next3d.data.head_link import load_head
    from next3d.data.synth import synth_dataset
    from next3d.data.synth_settings import SynthSettings
    from next3d.utils.device import resolve_device

    if as_zip and out.suffix.lower() != ".zip":
        out = out.with_name(out.name + ".zip")
    dev = resolve_device(device)
    head = load_head(head_name)
    supersample = supersample or (2 if dev.type == "cuda" else 1)
    settings = SynthSettings(n=count, resolution=resolution, seed=seed, batch=batch, supersample=supersample,
                             head_name=head.name, head_hash=head.content_hash(), device_type=dev.type)
    report = synth_dataset(out, settings, head, dev, force=force, stop_after=stop_after, workers=workers)
    state = "wrote" if report.finished else "stopped; rerun the same command to continue:"
    click.echo(f"{state} {report.out} ({report.written} new images, {report.already_done} from before)")
    if bench:
        click.echo(f"{report.images_per_second:.1f} images/s ({report.written} images in {report.seconds:.1f} s "
                   f"on {dev})")


@dataset.command("bench-synth")
@click.option("--res", "resolution", default=256, show_default=True)
@click.option("--batch", default=32, show_default=True)
@click.option("--batches", default=8, show_default=True, help="Timed batches (after one warm-up batch).")
@click.option("--supersample", default=2, show_default=True)
@click.option("--head", "head_name", default="builtin", show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--workers", type=int, default=None)
def bench_synth_command(resolution, batch, batches, supersample, head_name, device, workers) -> None:
    """Time the stages of `dataset synth` (scene sampling, rendering, PNG encoding); prints one JSON line."""
    import json
    from dataclasses import asdict

    from next3d.data.head_link import load_head
    from next3d.data.synth_bench import bench_synth
    from next3d.utils.device import resolve_device

    result = bench_synth(load_head(head_name), resolution, batch, batches, resolve_device(device), supersample,
                         workers)
    click.echo(json.dumps({**asdict(result), "expected_images_per_second": result.expected_images_per_second}))
