"""A restricted unpickler: loads pickled *data* and refuses anything that would run code.

A pickle is a small program: its GLOBAL / STACK_GLOBAL opcodes import any `module.name`, and REDUCE calls
it. `safe_load` resolves such imports only through a whitelist that maps `(module, name)` to a callable
the caller provides (a constructor or reconstructor that only builds data). Every other import is refused
with `UnsafeFileError` before anything is called, so a hostile file cannot execute code: e.g.

    refusing to load FLAME model 'generic_model.pkl': it imports os.system, which is not a known data
    type; nothing was executed

Building blocks for whitelists are provided here (`builtin_types()`, `numpy_types()`); loaders for
particular formats (FLAME models, network pickles) add stand-ins for their own classes, e.g.

    allowed = {**builtin_types(), **numpy_types(), ("chumpy.ch", "Ch"): ChumpyArrayStandIn}
    data = safe_load(path, allowed, what=f"FLAME model '{path.name}'", encoding="latin1")

Python 2 module names (`__builtin__`, `copy_reg`) are translated to their Python 3 names before the
lookup, so whitelists are written with Python 3 names only. Persistent ids (references to objects stored
outside the pickle, as in torch's zip checkpoints) are refused unless the caller passes a
`persistent_load` hook that resolves them to data.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping

import numpy as np

from next3d.errors import BadInputError, UnsafeFileError

# Python 2 module names that pickles written by Python 2 use, mapped to their Python 3 names.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg", "exceptions": "builtins"}

Whitelist = Mapping[tuple[str, str], Callable[..., Any]]


def safe_load(source: bytes | BinaryIO | str | os.PathLike, allowed: Whitelist, *, what: str,
              encoding: str = "ASCII", persistent_load: Callable[[Any], Any] | None = None) -> Any:
    """Unpickle `source` (bytes, a binary file object or a path), resolving only whitelisted globals.

    `allowed` maps `(module, name)` to the callable used in its place; `what` names the file in messages
    ("FLAME model 'generic_model.pkl'"); `encoding` is how Python 2 `str` objects are decoded ("latin1"
    for numpy arrays written by Python 2). Raises `UnsafeFileError` for any other import (nothing is
    executed) and `BadInputError` for a missing or malformed file.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _load_stream(io.BytesIO(bytes(source)), allowed, what, encoding, persistent_load)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise BadInputError(f"{what}: file not found ({path})")
        with open(path, "rb") as f:
            return _load_stream(f, allowed, what, encoding, persistent_load)
    return _load_stream(source, allowed, what, encoding, persistent_load)


class _RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose `find_class` consults the whitelist only (the default one imports anything)."""

    def __init__(self, stream: BinaryIO, allowed: Whitelist, what: str, encoding: str,
                 persistent_load: Callable[[Any], Any] | None):
        super().__init__(stream, encoding=encoding, fix_imports=False)
        self._allowed = allowed
        self._what = what
        self._persistent_hook = persistent_load

    def find_class(self, module: str, name: str) -> Any:
        key = (_PY2_MODULES.get(module, module), name)
        if key in self._allowed:
            return self._allowed[key]
        raise UnsafeFileError(f"refusing to load {self._what}: it imports {module}.{name}, which is not a "
                              "known data type; nothing was executed")

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent_hook is None:
            raise UnsafeFileError(f"refusing to load {self._what}: it refers to objects stored outside the "
                                  f"pickle (persistent id {_short_repr(pid)}), which this loader does not "
                                  "resolve; nothing was executed")
        return self._persistent_hook(pid)


def _load_stream(stream: BinaryIO, allowed: Whitelist, what: str, encoding: str,
                 persistent_load: Callable[[Any], Any] | None) -> Any:
    unpickler = _RestrictedUnpickler(stream, allowed, what, encoding, persistent_load)
    try:
        return unpickler.load()
    except (UnsafeFileError, BadInputError):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure inside a malformed pickle becomes one clear line
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise BadInputError(f"{what}: not a readable pickle of the expected kind "
                            f"({type(exc).__name__}{': ' + detail if detail else ''})") from exc


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# ---------------------------------------------------------------------------------------------------------
# Whitelist building blocks. Each returns a fresh dict so callers can extend it.


def builtin_types() -> dict[tuple[str, str], Callable[..., Any]]:
    """Plain Python containers and the helpers protocol-0..2 pickles use to rebuild objects and bytes."""
    return {
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): bytearray,
        ("builtins", "slice"): slice,
        ("builtins", "object"): object,
        ("collections", "OrderedDict"): dict,
        ("copyreg", "_reconstructor"): _copyreg_reconstructor,
        ("_codecs", "encode"): _latin1_encode,
    }


def numpy_types() -> dict[tuple[str, str], Callable[..., Any]]:
    """numpy arrays, dtypes and scalars, as pickled by numpy 1.x and 2.x (module renamed to numpy._core)."""
    allowed: dict[tuple[str, str], Callable[..., Any]] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _numpy_dtype,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = _numpy_reconstruct
        allowed[(module, "scalar")] = _numpy_scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(module, "_frombuffer")] = _numpy_frombuffer
    return allowed


def _copyreg_reconstructor(cls: type, base: type, state: Any) -> Any:
    """`copyreg._reconstructor` limited to whitelisted classes built on `object` (Python 2 new-style)."""
    if base is not object or state is not None:
        raise BadInputError("copyreg._reconstructor is only supported for plain objects")
    return cls.__new__(cls)


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """`_codecs.encode` as protocol-2 pickles use it for bytes; only the latin-1 codec is accepted."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise BadInputError(f"_codecs.encode with codec {encoding!r} is not supported")
    return text.encode("latin1")


def _numpy_dtype(spec: Any, align: bool = False, copy: bool = False) -> np.dtype:  # noqa: ARG001
    """`numpy.dtype(spec, align, copy)` as pickled dtypes call it; building a dtype runs no user code.

    Object dtypes are allowed: an object array's elements are themselves unpickled through the whitelist.
    """
    return np.dtype(spec, align=bool(align))


def _numpy_reconstruct(subtype: type, shape: Any, dtype_code: Any) -> np.ndarray:
    """`numpy.core.multiarray._reconstruct`: an empty plain ndarray whose state BUILD then fills in."""
    if subtype is not np.ndarray:
        raise BadInputError(f"arrays of type {getattr(subtype, '__name__', subtype)!r} are not supported")
    return np.ndarray.__new__(np.ndarray, shape, dtype_code)


def _numpy_scalar(dtype: np.dtype, data: bytes | str | None = None) -> Any:
    """`numpy.core.multiarray.scalar`: a numpy scalar from its raw bytes (object scalars are refused)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise BadInputError("numpy object scalars are not supported")
    if isinstance(data, str):
        data = data.encode("latin1")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _numpy_frombuffer(buffer: Any, dtype: np.dtype, shape: tuple[int, ...], order: str) -> np.ndarray:
    """`numpy.core.numeric._frombuffer` (protocol-5 pickles): an array copied out of a byte buffer."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise BadInputError("numpy object arrays cannot come from a byte buffer")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order).copy()
