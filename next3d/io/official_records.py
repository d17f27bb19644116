"""Plain-data stand-ins for the objects inside EG3D/Next3D network pickles (nothing from the file runs).

- `PersistentRecord`: what `torch_utils.persistence._reconstruct_persistent_obj(meta)` would rebuild by
  exec'ing `meta['module_src']`. Here the source stays text; `state` is the module's `__dict__`
  (`_parameters`, `_buffers`, `_modules`, `_init_args`, `_init_kwargs`, plain attributes).
- `ObjectRecord`: an instance of a class pickled by reference (torch.nn.Sequential, ImportanceRenderer, the
  non-persistent OSGDecoder, ...); its class path is kept, its `__dict__` becomes `state`.
- `EasyDictRecord`: `dnnlib.util.EasyDict`, a dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from next3d.errors import BadInputError


@dataclass
class PersistentRecord:
    """A torch_utils.persistence object: class name, its module's source text (never executed), state."""

    class_name: str
    module_src: str
    version: int
    state: dict = field(default_factory=dict)

    @property
    def class_path(self) -> str:
        return self.class_name

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args") or ())

    @property
    def init_kwargs(self) -> dict:
        return dict(self.state.get("_init_kwargs") or {})


class ObjectRecord:
    """An object of a by-reference class; `class_path` is set on the per-class subclass `record_class` makes."""

    class_path = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> ObjectRecord:
        obj = super().__new__(cls)
        obj.state, obj.args, obj.kwargs = {}, args, kwargs
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise BadInputError(f"{self.class_path}: object state is a {type(state).__name__}, expected a dict")
        self.state = state

    def __repr__(self) -> str:
        return f"ObjectRecord({self.class_path})"


class EasyDictRecord(dict):
    """`dnnlib.util.EasyDict`: a dict (attribute access is not needed here)."""


def record_class(module: str, name: str) -> type:
    """An `ObjectRecord` subclass standing in for the class `module.name` (pickle instantiates it via NEWOBJ)."""
    return type(name, (ObjectRecord,), {"class_path": f"{module}.{name}", "__module__": __name__})


def reconstruct_persistent(meta: Any) -> PersistentRecord:
    """`_reconstruct_persistent_obj(meta)` as data: validates meta and keeps module_src as text."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise BadInputError(f"persistent object with unexpected meta ({type(meta).__name__}, "
                            f"type {meta.get('type') if isinstance(meta, dict) else '?'!r})")
    class_name, module_src, state = meta.get("class_name"), meta.get("module_src"), meta.get("state")
    if not isinstance(class_name, str) or not isinstance(module_src, str) or not isinstance(state, dict):
        raise BadInputError("persistent object without class_name, module_src or state")
    return PersistentRecord(class_name=class_name, module_src=module_src, version=int(meta.get("version", 0)),
                            state=dict(state))


def is_module_record(value: Any) -> bool:
    """Whether a record holds an nn.Module's state (parameters, buffers and sub-modules)."""
    return isinstance(value, (PersistentRecord, ObjectRecord)) and isinstance(value.state.get("_modules"), dict)


def child(record: Any, path: str) -> Any:
    """The sub-module record at a dotted path ('decoder.net.0'), or None when absent."""
    node = record
    for part in path.split(".") if path else []:
        if not is_module_record(node):
            return None
        node = node.state["_modules"].get(part)
    return node


def module_tensors(record: Any, where: str, prefix: str = "") -> dict[str, torch.Tensor]:
    """The state dict `record.state_dict()` would give: parameters and persistent buffers, recursively."""
    if not is_module_record(record):
        raise BadInputError(f"{where}: '{prefix.rstrip('.') or 'network'}' is a {type(record).__name__}, "
                            "not a network module")
    state = record.state
    skip = set(state.get("_non_persistent_buffers_set") or ())
    out: dict[str, torch.Tensor] = {}
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if value is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(value, torch.Tensor):
                raise BadInputError(f"{where}: {prefix}{name} is a {type(value).__name__}, expected a tensor")
            out[prefix + name] = value
    for name, sub in state["_modules"].items():
        if sub is not None:
            out.update(module_tensors(sub, where, f"{prefix}{name}."))
    return out
