"""`python -m next3d import-pkl IN.pkl OUT.safetensors`: convert an official EG3D/Next3D pickle (no code runs)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("import-pkl")
@click.argument("source", type=click.Path(dir_okay=False))
@click.argument("out", required=False, type=click.Path(dir_okay=False))
@click.option("--head", "head_path", default=None, type=click.Path(dir_okay=False),
              help="Head model the network was trained with: FLAME generic_model.pkl (head_template.obj beside it) "
                   "or a head file (.safetensors). Required for Next3D pickles; EG3D pickles ignore it.")
@click.option("--which", type=click.Choice(["G_ema", "G"]), default="G_ema", show_default=True,
              help="Which generator of a training snapshot to convert.")
@click.option("--dry-run", is_flag=True, help="Only print the report; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def import_pkl(source: str, out: str | None, head_path: str | None, which: str, dry_run: bool, force: bool) -> None:
    """Convert an official EG3D/Next3D .pkl into a checkpoint; no code from the file runs.

    Prints every skipped, missing, unexpected and mis-shaped tensor; OUT is written only when nothing
    required is missing or wrong (docs/importing.md)."""
    from next3d.errors import BadInputError, Next3DError
    from next3d.io.generator_file import save_generator
    from next3d.io.official_import import import_meta, import_official_generator

    if out is None and not dry_run:
        raise BadInputError("import-pkl: missing OUT (the .safetensors file to write); or pass --dry-run")
    if out is not None and not dry_run:
        target = Path(out).expanduser()
        if target.exists() and not force:
            raise BadInputError(f"{target}: already exists (pass --force to overwrite)")
        if target.suffix != ".safetensors":
            raise BadInputError(f"{target}: the output must be a .safetensors file")
    head = None
    if head_path is not None:
        from next3d.head import load_head

        head = load_head(head_path)
    G, report = import_official_generator(source, head=head, which=which, build=not dry_run)
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise Next3DError(f"{source}: cannot convert ({report.summary()}; listed above); nothing was written")
    if dry_run:
        click.echo("dry run: nothing written")
        return
    save_generator(target, G, **import_meta(report))
    click.echo(f"wrote {target} ({G.config.architecture}, {sum(p.numel() for p in G.parameters()) / 1e6:.1f} M "
               f"parameters, head '{G.head.name}')")
