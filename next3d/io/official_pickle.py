"""Reading EG3D / Next3D network pickles (`ffhq*.pkl`, `next3d_ffhq_512.pkl`) as data, never as code.

Those files are written with `pickle.dump` of `torch_utils.persistence` objects: every network is
`_reconstruct_persistent_obj(meta)` whose `meta['module_src']` the official loader exec's. Here the
restricted unpickler (next3d/io/safe_pickle.py) resolves each global to an inert stand-in:

- `torch_utils.persistence._reconstruct_persistent_obj` -> a `PersistentRecord` (module_src kept as text);
- tensor/parameter/storage rebuilders -> next3d/io/official_storage.py (no torch.load);
- `collections.OrderedDict`, `dnnlib(.util).EasyDict`, sets, numpy arrays, torch dtypes -> plain values;
- classes (CamelCase names) of the official network packages (`training`, `training_avatar_texture`,
  `torch_utils`) and of `torch.nn.modules` -> `ObjectRecord` subclasses that only store their state.

Anything else (os.system, builtins.eval, subprocess, functions of any module, other packages' classes) is
refused with `UnsafeFileError` naming it, before anything is called.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from next3d.errors import BadInputError
from next3d.io.official_records import (
    EasyDictRecord,
    ObjectRecord,
    PersistentRecord,
    reconstruct_persistent,
    record_class,
)
from next3d.io.official_storage import storage_from_legacy_bytes, tensor_whitelist
from next3d.io.safe_pickle import builtin_types, numpy_types, safe_load
from next3d.utils.hashing import file_sha256

# Packages whose classes may appear by reference (their instances become inert ObjectRecords).
CLASS_PACKAGES = ("training", "training_avatar_texture", "torch_utils", "torch.nn.modules")
ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class OfficialPickle:
    """What an official pickle holds: its networks as records, other top-level entries as plain data."""

    path: Path
    sha256: str
    networks: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)

    def network(self, which: str) -> PersistentRecord:
        """The network stored under `which` ('G_ema', 'G', 'D'; a lone network is found under any name)."""
        if which in self.networks:
            return self.networks[which]
        if list(self.networks) == ["network"]:
            return self.networks["network"]
        held = ", ".join(self.networks) or "no networks"
        raise BadInputError(f"{self.path}: has no '{which}' network (it holds: {held})")


class OfficialWhitelist(Mapping):
    """The globals an official pickle may import, each mapped to a stand-in that only builds data."""

    def __init__(self, what: str):
        self._fixed: dict[tuple[str, str], Callable[..., Any]] = {
            **builtin_types(),
            **numpy_types(),
            **tensor_whitelist(),
            ("torch.storage", "_load_from_bytes"): lambda blob: storage_from_legacy_bytes(blob, what),
            ("torch_utils.persistence", "_reconstruct_persistent_obj"): reconstruct_persistent,
            ("dnnlib.util", "EasyDict"): EasyDictRecord,
            ("dnnlib", "EasyDict"): EasyDictRecord,
            ("copyreg", "_reconstructor"): _reconstructor,
            ("collections", "OrderedDict"): dict,
        }
        self._classes: dict[tuple[str, str], type] = {}

    def __getitem__(self, key: tuple[str, str]) -> Any:
        if key in self._fixed:
            return self._fixed[key]
        if not _is_record_class(*key):
            raise KeyError(key)
        if key not in self._classes:
            self._classes[key] = record_class(*key)
        return self._classes[key]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and len(key) == 2 and (key in self._fixed or _is_record_class(*key))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fixed)

    def __len__(self) -> int:
        return len(self._fixed)


def _is_record_class(module: Any, name: Any) -> bool:
    """A CamelCase class name (no dots) in one of CLASS_PACKAGES (or a persistence-imported module)."""
    if not isinstance(module, str) or not isinstance(name, str) or not name.isidentifier() or not name[:1].isupper():
        return False
    in_package = any(module == p or module.startswith(p + ".") for p in CLASS_PACKAGES)
    return in_package or module.startswith("_imported_module_")


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """`copyreg._reconstructor` (protocol 0/1) for the stand-in classes only."""
    if isinstance(cls, type) and issubclass(cls, ObjectRecord) and base is object and state is None:
        return cls.__new__(cls)
    if cls is EasyDictRecord and base is dict and isinstance(state, dict):
        return EasyDictRecord(state)
    raise BadInputError("copyreg._reconstructor with an unexpected class")


def read_official_pickle(path: str | os.PathLike) -> OfficialPickle:
    """Load an EG3D/Next3D `.pkl` (snapshot dict or lone network) as records; refuses code, names bad data."""
    path = Path(path).expanduser()
    what = f"network pickle '{path}'"
    if not path.exists():
        raise BadInputError(f"{what}: file not found")
    if not path.is_file():
        raise BadInputError(f"{what}: not a file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == ZIP_MAGIC:
        raise BadInputError(f"{what}: a zip archive (torch.save checkpoint?), not an EG3D/Next3D network pickle")
    data = safe_load(path, OfficialWhitelist(what), what=what)
    if isinstance(data, PersistentRecord):
        networks, extras = {"network": data}, {}
    elif isinstance(data, dict):
        networks = {k: v for k, v in data.items() if isinstance(v, PersistentRecord)}
        extras = {k: v for k, v in data.items() if k not in networks}
    else:
        raise BadInputError(f"{what}: holds a {type(data).__name__}, expected a network snapshot (dict of networks)")
    if not networks:
        raise BadInputError(f"{what}: holds no networks (keys: {', '.join(map(str, data)) or 'none'})")
    return OfficialPickle(path=path, sha256=file_sha256(path), networks=networks, extras=extras)
