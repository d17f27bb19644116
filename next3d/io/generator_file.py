"""Saving and loading a generator as a checkpoint: weights + config + the hash of its head model."""

from __future__ import annotations

from pathlib import Path

import torch

from next3d.errors import BadInputError
from next3d.io.checkpoint import Checkpoint, load_checkpoint, load_state_strict, save_checkpoint


def generator_meta(G, **extra) -> dict:
    """The JSON a checkpoint needs to rebuild `G`: its config and which head model it was trained with."""
    return {"generator_config": G.config.to_dict(), "head": {"name": G.head.name, "hash": G.head_hash}, **extra}


def save_generator(path: str | Path, G, dtype: torch.dtype | None = None, **extra_meta) -> None:
    """Write G's weights as `G_ema` (atomic); `dtype=torch.float16` halves the file."""
    save_checkpoint(path, {"G_ema": G}, {"kind": "generator", **generator_meta(G, **extra_meta)}, dtype=dtype)


def load_generator(path: str | Path, device: str | torch.device = "cpu", which: str = "G_ema", head=None):
    """Rebuild a `Next3DGenerator` from a checkpoint file or run directory, validating shapes and head model.

    `head`: the head model it was trained with; default: the built-in head, which must match the recorded hash.
    """
    return generator_from_checkpoint(load_checkpoint(path), device, which, head)


def generator_from_checkpoint(ckpt: Checkpoint, device: str | torch.device = "cpu", which: str = "G_ema", head=None):
    """`load_generator` for a checkpoint already in memory (callers that also need its other modules read it once)."""
    from next3d.head import load_default_head
    from next3d.networks.generator import Next3DGenerator
    from next3d.networks.presets import GeneratorConfig

    where = str(ckpt.path)
    if "generator_config" not in ckpt.meta:
        raise BadInputError(f"{where}: not a generator checkpoint (kind '{ckpt.meta.get('kind', '?')}')")
    config = GeneratorConfig.from_dict(ckpt.meta["generator_config"], where=f"{where}: generator_config")
    recorded = ckpt.meta.get("head", {})
    head = head if head is not None else load_default_head()
    if recorded.get("hash") and recorded["hash"] != head.content_hash():
        raise BadInputError(
            f"{where}: trained with head model '{recorded.get('name', '?')}' (hash {recorded['hash'][:12]}), but "
            f"the head given is '{head.name}' (hash {head.content_hash()[:12]}); pass the head it was trained with")
    if which not in ckpt.tensors and which == "G_ema" and "G" in ckpt.tensors:
        which = "G"
    G = Next3DGenerator(config, head)
    load_state_strict(G, ckpt.module_state(which), f"{where} ({which})")
    return G.eval().requires_grad_(False).to(device)
