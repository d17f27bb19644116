"""Generators that live only in memory (e.g. the tuned copy from an inversion with pivotal tuning).

A `MemoryModel` is named `memory:<name>` (the `RenderArgs.checkpoint` that selects it) and carries the weights
as safetensors bytes with the same JSON document a checkpoint file has, so it can be sent to a worker process
and rebuilt there without running code, exactly like a file is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from next3d.errors import BadInputError

MEMORY_PREFIX = "memory:"
_META_KEY = "next3d"
_MODULE = "G_ema."


@dataclass(frozen=True)
class MemoryModel:
    """A generator held in memory: `spec` selects it, `description` is its one-line label for the GUI."""

    spec: str
    description: str
    payload: bytes  # safetensors bytes: G_ema.<param> tensors + the checkpoint JSON under "next3d"


def pack_generator(G, name: str, description: str, **meta) -> MemoryModel:
    """Copy G's weights (float32, CPU) and config into a MemoryModel called `memory:<name>`."""
    from safetensors.torch import save

    from next3d.io.generator_file import generator_meta

    tensors = {_MODULE + key: value.detach().to("cpu", torch.float32 if value.is_floating_point() else value.dtype)
               .contiguous().clone() for key, value in G.state_dict().items()}
    document = json.dumps({"format": 1, "kind": "generator", **generator_meta(G, **meta)}, sort_keys=True)
    return MemoryModel(MEMORY_PREFIX + name, description, save(tensors, metadata={_META_KEY: document}))


def unpack_generator(model: MemoryModel, device: torch.device | str = "cpu"):
    """Rebuild the generator of a MemoryModel (validated like a checkpoint file), eval, without gradients."""
    from safetensors.torch import load

    from next3d.head import load_default_head
    from next3d.io.checkpoint import load_state_strict
    from next3d.networks.generator import Next3DGenerator
    from next3d.networks.presets import GeneratorConfig

    meta = json.loads(_header_metadata(model.payload).get(_META_KEY, "{}"))
    if "generator_config" not in meta:
        raise BadInputError(f"{model.spec}: the in-memory model has no generator config")
    config = GeneratorConfig.from_dict(meta["generator_config"], where=f"{model.spec}: generator_config")
    head = load_default_head()
    recorded = meta.get("head", {}).get("hash")
    if recorded and recorded != head.content_hash():
        raise BadInputError(f"{model.spec}: made with head model hash {recorded[:12]}, the built-in head is "
                            f"{head.content_hash()[:12]}")
    state = {key[len(_MODULE):]: value for key, value in load(model.payload).items() if key.startswith(_MODULE)}
    G = Next3DGenerator(config, head)
    load_state_strict(G, state, model.spec)
    return G.eval().requires_grad_(False).to(device)


def _header_metadata(payload: bytes) -> dict:
    """The `__metadata__` of a safetensors byte string (8-byte little-endian header length, then JSON)."""
    size = int.from_bytes(payload[:8], "little")
    header = json.loads(payload[8:8 + size])
    return header.get("__metadata__", {}) or {}
