"""Head model files: one safetensors file; names, lists and scalars live in its JSON header metadata.

Layout: every tensor field of `HeadData` under its own name (floats as float32, indices as int32; an absent
`vertex_mirror` is simply not stored) and the metadata key "next3d_head" holding a JSON object:
`{"format": "next3d-head", "version": 1, "name", "shape_names", "expr_names", "joint_names",
"landmark_names", "region_names", "world_scale", "provenance": {str: str}}`.
Reading never executes code from the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from next3d.errors import BadInputError
from next3d.head.schema import HeadData
from next3d.utils.atomic import atomic_path

META_KEY = "next3d_head"
FORMAT_NAME = "next3d-head"
FORMAT_VERSION = 1
_JSON_FIELDS = ("name", "shape_names", "expr_names", "joint_names", "landmark_names", "region_names",
                "world_scale", "provenance")
_OPTIONAL_TENSORS = ("vertex_mirror",)


def save_head_file(data: HeadData, path: str | os.PathLike) -> None:
    """Validate `data` and write it to `path` atomically."""
    data.validate(f"head '{data.name}'")
    tensors = {}
    for f in fields(HeadData):
        if f.name in _JSON_FIELDS:
            continue
        value = getattr(data, f.name)
        if value is None:
            continue
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.to(torch.float32)
        else:
            if value.numel() and int(value.abs().max()) >= 2**31:
                raise BadInputError(f"head '{data.name}': {f.name} holds indices too large for int32")
            value = value.to(torch.int32)
        tensors[f.name] = value.contiguous()
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    meta.update({name: getattr(data, name) for name in _JSON_FIELDS})
    meta["world_scale"] = float(data.world_scale)
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})


def load_head_file(path: str | os.PathLike) -> HeadData:
    """Read a head file into `HeadData`; a missing or malformed file raises BadInputError naming it."""
    path = Path(path)
    where = f"head file '{path}'"
    if not path.is_file():
        raise BadInputError(f"{where}: not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(f"{where}: not a safetensors head file ({detail})") from exc
    if META_KEY not in header:
        raise BadInputError(f"{where}: has no '{META_KEY}' metadata; not a Next3D head file")
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{where}: its '{META_KEY}' metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise BadInputError(f"{where}: metadata format is {meta.get('format') if isinstance(meta, dict) else meta!r}, "
                            f"expected '{FORMAT_NAME}'")
    if meta.get("version") != FORMAT_VERSION:
        raise BadInputError(f"{where}: format version {meta.get('version')} is not supported "
                            f"(this build reads version {FORMAT_VERSION})")
    values: dict = {}
    for name in _JSON_FIELDS:
        if name not in meta:
            raise BadInputError(f"{where}: metadata lacks '{name}'")
        values[name] = meta[name]
    for key in ("shape_names", "expr_names", "joint_names", "landmark_names", "region_names"):
        if not isinstance(values[key], list) or not all(isinstance(n, str) for n in values[key]):
            raise BadInputError(f"{where}: metadata '{key}' must be a list of strings")
    if not isinstance(values["world_scale"], (int, float)):
        raise BadInputError(f"{where}: metadata 'world_scale' must be a number")
    if not isinstance(values["provenance"], dict):
        raise BadInputError(f"{where}: metadata 'provenance' must be an object")
    values["provenance"] = {str(k): str(v) for k, v in values["provenance"].items()}
    for f in fields(HeadData):
        if f.name in _JSON_FIELDS:
            continue
        if f.name not in tensors:
            if f.name in _OPTIONAL_TENSORS:
                values[f.name] = None
                continue
            raise BadInputError(f"{where}: tensor '{f.name}' is missing")
        tensor = tensors[f.name]
        values[f.name] = tensor.to(torch.float32) if tensor.is_floating_point() else tensor.to(torch.long)
    data = HeadData(**values)
    data.validate(where)
    return data
