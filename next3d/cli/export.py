"""`python -m next3d export`: a compact file to ship from a training run (EMA weights only, optionally fp16)."""

from __future__ import annotations

import click

from next3d.errors import BadInputError


@click.command()
@click.argument("source")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--fp16/--fp32", "fp16", default=True, show_default=True, help="Store floating-point weights as fp16.")
@click.option("--force", is_flag=True, help="Overwrite OUT.")
@click.option("--discriminator", is_flag=True,
              help="Write the snapshot's discriminator instead (for `train --init-discriminator`).")
def export(source: str, out: str, fp16: bool, force: bool, discriminator: bool) -> None:
    """Write the EMA weights of SOURCE (a generator or prior run directory / snapshot) to OUT, without the
    optimizer, the discriminator or the non-EMA weights; with --discriminator, its D alone."""
    from pathlib import Path

    import torch

    from next3d.io.checkpoint import load_checkpoint, save_checkpoint

    if Path(out).exists() and not force:
        raise BadInputError(f"{out}: exists already (use --force to overwrite)")
    ckpt = load_checkpoint(source)
    kind = ckpt.meta.get("kind")
    if discriminator:
        if kind != "snapshot":
            raise BadInputError(f"{ckpt.path}: a '{kind}' checkpoint; --discriminator takes a training snapshot")
        modules, meta = {"D": ckpt.module_state("D")}, {"kind": "discriminator"}
        keep = ("discriminator_config", "generator_config", "head", "training")
    elif "generator_config" in ckpt.meta:
        which = "G_ema" if "G_ema" in ckpt.tensors else "G"
        modules, meta = {"G_ema": ckpt.module_state(which)}, {"kind": "generator"}
        keep = ("generator_config", "head", "training")
    elif kind == "prior":
        modules, meta = {"prior_ema": ckpt.module_state("prior_ema")}, {"kind": "prior"}
        keep = ("prior_config", "training")
    else:
        raise BadInputError(f"{ckpt.path}: a '{kind}' checkpoint; export takes a generator or a prior")
    meta.update({k: ckpt.meta[k] for k in keep if k in ckpt.meta})
    meta["exported_from"] = ckpt.path.name
    save_checkpoint(out, modules, meta, dtype=torch.float16 if fp16 else None)
    click.echo(f"wrote {out} ({Path(out).stat().st_size / 2**20:.1f} MB, {meta['kind']})")
