"""Checkpoints: safetensors weights plus a JSON document in the file's header. Loading never runs code.

Tensors are stored as `<module>.<parameter>` (e.g. `G_ema.mapping.fc0.weight`); the JSON (header metadata
key "next3d") holds the architecture config, the head model's name and hash, and training state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from next3d.errors import BadInputError
from next3d.utils.atomic import atomic_path

FORMAT_VERSION = 1
META_KEY = "next3d"
SNAPSHOT_GLOB = "snapshot-*.safetensors"


@dataclass
class Checkpoint:
    """What a checkpoint file holds: its JSON document and its tensors grouped by module name."""

    path: Path
    meta: dict
    tensors: dict[str, dict[str, torch.Tensor]]

    def module_state(self, name: str) -> dict[str, torch.Tensor]:
        if name not in self.tensors:
            raise BadInputError(f"{self.path}: has no '{name}' weights (it holds: {', '.join(sorted(self.tensors))})")
        return self.tensors[name]


def save_checkpoint(path: str | Path, modules: dict[str, torch.nn.Module | dict[str, torch.Tensor]],
                    meta: dict, dtype: torch.dtype | None = None) -> None:
    """Write module weights and `meta` (JSON-serializable) to one .safetensors file, atomically.

    `dtype` converts floating-point tensors (e.g. torch.float16 for a small shipped model).
    """
    flat: dict[str, torch.Tensor] = {}
    for module_name, module in modules.items():
        state = module.state_dict() if isinstance(module, torch.nn.Module) else module
        for key, tensor in state.items():
            tensor = tensor.detach().to("cpu")
            if dtype is not None and tensor.is_floating_point():
                tensor = tensor.to(dtype)
            flat[f"{module_name}.{key}"] = tensor.contiguous().clone()
    document = json.dumps({"format": FORMAT_VERSION, **meta}, sort_keys=True)
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp), metadata={META_KEY: document})


def read_meta(path: str | Path) -> dict:
    """The JSON document of a checkpoint, without loading its tensors."""
    path = _existing(path)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable safetensors checkpoint ({exc})") from None
    return _parse_meta(path, header)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint file (or a run directory's latest snapshot) into memory on the CPU."""
    path = resolve_checkpoint(path)
    meta = read_meta(path)
    try:
        flat = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise BadInputError(f"{path}: corrupt checkpoint, its tensors cannot be read ({exc})") from None
    tensors: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in flat.items():
        module_name, _, param = key.partition(".")
        tensors.setdefault(module_name, {})[param] = tensor
    return Checkpoint(path, meta, tensors)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file as given, or for a run directory its latest snapshot (highest kimg number)."""
    path = Path(path).expanduser()
    if path.is_dir():
        snapshots = sorted(path.glob(SNAPSHOT_GLOB)) or sorted(path.glob("*/" + SNAPSHOT_GLOB))
        if not snapshots:
            raise BadInputError(f"{path}: a folder with no {SNAPSHOT_GLOB} in it (not a training run directory)")
        return max(snapshots, key=lambda p: (p.stem, p.stat().st_mtime))
    return _existing(path)


def load_state_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Load `state` into `module`, naming every missing, unexpected and mis-shaped tensor on failure."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
                 if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape (file vs model)", misshaped)):
        if items:
            shown = ", ".join(items[:6]) + (f", ... ({len(items)} in all)" if len(items) > 6 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise BadInputError(f"{where}: weights do not fit the architecture: " + "; ".join(problems))
    with torch.no_grad():
        for key, value in expected.items():
            value.copy_(state[key].to(value.dtype))


def _existing(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise BadInputError(f"{path}: no such checkpoint file")
    if not path.is_file():
        raise BadInputError(f"{path}: not a file")
    return path


def _parse_meta(path: Path, header: dict) -> dict:
    if META_KEY not in header:
        raise BadInputError(f"{path}: a safetensors file without Next3D metadata (not a Next3D Studio checkpoint; "
                            "official .pkl files are converted with `python -m next3d import-pkl`)")
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}: checkpoint metadata is not valid JSON ({exc})") from None
    if meta.get("format", 0) > FORMAT_VERSION:
        raise BadInputError(f"{path}: checkpoint format {meta.get('format')} is newer than this version "
                            f"of Next3D Studio understands ({FORMAT_VERSION}); upgrade the package")
    return meta
