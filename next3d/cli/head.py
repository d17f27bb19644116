"""`python -m next3d head ...`: inspect head model files and import FLAME into the Next3D head format."""

from __future__ import annotations

import click


@click.group("head")
def head() -> None:
    """Head models: show what a file holds, import FLAME."""


@head.command("info")
@click.argument("path", type=click.Path(dir_okay=False))
def info(path: str) -> None:
    """Print a head model's name, sizes, expression names and content hash (PATH: .safetensors or FLAME .pkl)."""
    from next3d.head import load_head

    model = load_head(path)
    click.echo(f"name:        {model.name}")
    click.echo(f"hash:        {model.content_hash()}")
    click.echo(f"vertices:    {model.num_vertices}")
    click.echo(f"faces:       {int(model.faces.shape[0])}")
    click.echo(f"uvs:         {int(model.uvs.shape[0])}")
    click.echo(f"shape:       {model.num_shape} ({', '.join(model.shape_names[:12])}"
               f"{', ...' if model.num_shape > 12 else ''})")
    click.echo(f"expression:  {model.num_expression}")
    for start in range(0, model.num_expression, 6):
        click.echo("             " + ", ".join(model.expr_names[start:start + 6]))
    click.echo(f"pose correctives: {'yes' if model.pose_dirs.shape[0] else 'no'}")
    click.echo(f"landmarks:   {model.num_landmarks} "
               f"(outer lip {len(model.lip_outer)}, inner lip {len(model.lip_inner)})")
    click.echo(f"regions:     {', '.join(model.region_names)}")
    click.echo(f"uv mask:     {tuple(model.uv_mask.shape)}, {float(model.uv_mask.mean()):.1%} on")
    shift = ", ".join(f"{x:g}" for x in model.world_shift.tolist())
    click.echo(f"world:       (v + ({shift})) * {model.world_scale:g}")
    for key, value in model.provenance.items():
        click.echo(f"{key + ':':13s}{value}")


@head.command("import-flame")
@click.option("--pkl", "pkl", required=True, type=click.Path(dir_okay=False), help="FLAME generic_model.pkl")
@click.option("--obj", "obj", required=True, type=click.Path(dir_okay=False), help="FLAME head_template.obj (UVs)")
@click.option("--landmarks", "landmarks", default=None, type=click.Path(dir_okay=False),
              help="landmark embedding (DECA landmark_embedding.npy or FLAME's static embedding)")
@click.option("--shape", "n_shape", default=100, show_default=True, help="identity components to keep")
@click.option("--expression", "n_expression", default=50, show_default=True, help="expression components to keep")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="output .safetensors head file")
def import_flame(pkl: str, obj: str, landmarks: str | None, n_shape: int, n_expression: int, out: str) -> None:
    """Convert a FLAME model into a Next3D head file (no chumpy needed; the pickle runs no code)."""
    from next3d.head.flame import load_flame

    model = load_flame(pkl, obj, n_shape=n_shape, n_expression=n_expression, landmark_path=landmarks)
    model.save(out)
    click.echo(f"wrote {out}: {model.name}, {model.num_vertices} vertices, {model.num_shape} shape + "
               f"{model.num_expression} expression components, hash {model.content_hash()[:16]}")
    click.echo(f"landmarks: {model.provenance.get('landmarks', '')}")


@head.command("bench")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--batch", "batches", default="1,8,32", show_default=True, help="Comma-separated batch sizes.")
@click.option("--repeat", default=50, show_default=True, type=click.IntRange(1), help="Timed calls per row.")
def bench(path: str | None, device: str, batches: str, repeat: int) -> None:
    """Time the skinning forward pass (and forward + backward) of a head model (default: the built-in one)."""
    import torch

    from next3d.cli.bench import parse_batch_sizes
    from next3d.head import load_default_head, load_head
    from next3d.head.benchmark import time_forward
    from next3d.utils.device import resolve_device

    sizes = parse_batch_sizes(batches)
    dev = resolve_device(device)
    model = load_head(path) if path else load_default_head()
    click.echo(f"{model.name}: {model.num_vertices} vertices on {dev} ({torch.get_num_threads()} CPU threads)")
    click.echo(f"{'batch':>6} {'forward ms':>11} {'fwd+bwd ms':>11}")
    for size in sizes:
        forward = time_forward(model, size, dev, repeat)
        both = time_forward(model, size, dev, repeat, grad=True)
        click.echo(f"{size:>6} {forward:>11.2f} {both:>11.2f}")
