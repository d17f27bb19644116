"""Tensors inside EG3D/Next3D network pickles, rebuilt without torch.load and without running file code.

`pickle.dump` of a module pickles each tensor as `torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, hooks[, metadata])` (parameters wrapped in `torch._utils._rebuild_parameter`) and
each storage as `torch.storage._load_from_bytes(blob)`, where `blob` is a legacy (non-zip) `torch.save`
file holding that one storage:

    pickle MAGIC_NUMBER | pickle 1001 | pickle sys_info | pickle persistent id of the storage
    | pickle [storage keys] | per key: int64 little-endian element count + raw little-endian elements

The persistent id is ('storage', torch.<Type>Storage, key, location, numel[, view_metadata]). This module
parses that layout itself (the small pickles through the restricted unpickler) and checks every offset,
size and stride against the data before viewing it.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from typing import Any

import torch

from next3d.errors import BadInputError
from next3d.io.safe_pickle import safe_load

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch.<Name>Storage -> element dtype (the storage classes legacy blobs name).
STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


@dataclass(frozen=True)
class StorageType:
    """Stand-in for a `torch.<Name>Storage` class named inside a blob: just its element dtype."""

    name: str
    dtype: torch.dtype


@dataclass(frozen=True)
class _StorageRef:
    """A storage persistent id, resolved once the raw data that follows the pickles is read."""

    key: str
    storage_type: StorageType
    numel: int
    view: tuple | None


@dataclass(frozen=True)
class Storage:
    """One storage's elements as a flat CPU tensor."""

    data: torch.Tensor  # (numel,)


def storage_whitelist() -> dict[tuple[str, str], Any]:
    """The only globals a legacy storage blob may name: the storage classes."""
    return {("torch", name): StorageType(name, dtype) for name, dtype in STORAGE_DTYPES.items()}


def storage_from_legacy_bytes(blob: bytes, what: str) -> Storage:
    """`torch.storage._load_from_bytes(blob)` done safely: parse the legacy torch.save layout above."""
    if not isinstance(blob, (bytes, bytearray)):
        raise BadInputError(f"{what}: a tensor storage is {type(blob).__name__}, expected bytes")
    stream = io.BytesIO(bytes(blob))
    where = f"{what} (tensor storage)"
    header = [safe_load(stream, {}, what=where) for _ in range(3)]
    if header[0] != LEGACY_MAGIC or header[1] != LEGACY_PROTOCOL or not isinstance(header[2], dict):
        raise BadInputError(f"{where}: not a legacy torch storage blob (bad magic number or protocol)")
    if not header[2].get("little_endian", False):
        raise BadInputError(f"{where}: written on a big-endian machine, which is not supported")
    refs: list[_StorageRef] = []
    root = safe_load(stream, storage_whitelist(), what=where, persistent_load=lambda pid: _parse_pid(pid, refs, where))
    keys = safe_load(stream, {}, what=where)
    if not isinstance(root, _StorageRef) or not isinstance(keys, list):
        raise BadInputError(f"{where}: the blob holds {type(root).__name__}, expected one storage")
    types = {ref.key: ref.storage_type for ref in refs}
    arrays = {}
    for key in keys:
        if key not in types:
            raise BadInputError(f"{where}: raw data for unknown storage key {key!r}")
        arrays[key] = _read_elements(stream, types[key].dtype, where)
    if root.key not in arrays:
        raise BadInputError(f"{where}: the storage's data ({root.key!r}) is missing")
    data = arrays[root.key]
    if data.numel() != root.numel:
        raise BadInputError(f"{where}: storage header says {root.numel} elements, data holds {data.numel()}")
    if root.view is not None:
        data = _storage_view(arrays, root.view, where)
    return Storage(data)


def _parse_pid(pid: Any, refs: list[_StorageRef], where: str) -> _StorageRef:
    if (not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage"
            or not isinstance(pid[1], StorageType) or not isinstance(pid[2], str) or not _is_count(pid[4])):
        raise BadInputError(f"{where}: unexpected persistent id {str(pid)[:80]}")
    view = pid[5] if len(pid) == 6 else None
    if view is not None and not (isinstance(view, tuple) and len(view) == 3 and all(_is_count(v) for v in view[1:])):
        raise BadInputError(f"{where}: malformed storage view {str(view)[:80]}")
    ref = _StorageRef(pid[2], pid[1], int(pid[4]), view)
    refs.append(ref)
    return ref


def _read_elements(stream: io.BytesIO, dtype: torch.dtype, where: str) -> torch.Tensor:
    head = stream.read(8)
    if len(head) != 8:
        raise BadInputError(f"{where}: truncated (element count missing)")
    (count,) = struct.unpack("<q", head)
    size = torch.empty((), dtype=dtype).element_size()
    if count < 0:
        raise BadInputError(f"{where}: negative element count {count}")
    raw = stream.read(count * size)
    if len(raw) != count * size:
        raise BadInputError(f"{where}: truncated ({len(raw)} of {count * size} data bytes)")
    if count == 0:
        return torch.empty(0, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=dtype)


def _storage_view(arrays: dict[str, torch.Tensor], view: tuple, where: str) -> torch.Tensor:
    key, offset, numel = view
    if key not in arrays or offset + numel > arrays[key].numel():
        raise BadInputError(f"{where}: storage view ({offset} + {numel}) outside its storage")
    return arrays[key][offset:offset + numel]


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# ---------------------------------------------------------------------------------------------------------
# Tensor reconstructors (whitelisted in place of torch._utils._rebuild_*).


def rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                   backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    """`torch._utils._rebuild_tensor_v2`: a CPU tensor viewing `storage`, bounds-checked, then copied."""
    if not isinstance(storage, Storage):
        raise BadInputError(f"tensor rebuilt from a {type(storage).__name__}, expected a storage")
    if not (_is_count(storage_offset) and isinstance(size, tuple) and isinstance(stride, tuple)
            and len(size) == len(stride) and all(_is_count(s) for s in size) and all(_is_count(s) for s in stride)):
        raise BadInputError(f"tensor with malformed layout (offset {storage_offset!r}, size {size!r}, "
                            f"stride {stride!r})")
    if backward_hooks:
        raise BadInputError("tensor carries backward hooks, which a weights file never holds")
    available = storage.data.numel()
    if math.prod(size) > 0:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= available:
            raise BadInputError(f"tensor of size {tuple(size)} reads element {last} of a storage of {available}")
    return storage.data.as_strided(size, stride, storage_offset).clone()


def rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                      state: Any = None) -> torch.Tensor:
    """`torch._utils._rebuild_parameter(_with_state)`: the parameter's data as a plain tensor."""
    if not isinstance(data, torch.Tensor):
        raise BadInputError(f"parameter rebuilt from a {type(data).__name__}, expected a tensor")
    if backward_hooks:
        raise BadInputError("parameter carries backward hooks, which a weights file never holds")
    return data


def rebuild_from_type(func: Any, new_type: Any, args: Any, state: Any = None) -> torch.Tensor:
    """`torch._tensor._rebuild_from_type_v2`: only for the tensor rebuilders above; the subclass is dropped."""
    if func not in (rebuild_tensor, rebuild_parameter) or not isinstance(args, tuple):
        raise BadInputError("tensor subclass rebuilt with an unexpected function")
    return func(*args)


def tensor_whitelist() -> dict[tuple[str, str], Any]:
    """Globals `pickle.dump` of tensors and parameters uses, mapped to the safe rebuilders above."""
    marker = object()
    allowed: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): rebuild_from_type,
        ("torch._utils", "_rebuild_from_type_v2"): rebuild_from_type,
        ("torch", "Tensor"): marker,
        ("torch.nn.parameter", "Parameter"): marker,
    }
    for name in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
                 "float", "double", "half", "long", "int"):
        allowed[("torch", name)] = getattr(torch, name)
    return allowed
