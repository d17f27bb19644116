"""Reading FLAME's files without chumpy, scipy or torch: the model pickle and landmark embeddings.

`generic_model.pkl` (FLAME 2020/2023) is a Python 2 pickle (read with latin-1) of a dict whose values are
numpy arrays, chumpy `Ch` objects and a scipy `csc_matrix`. Both classes are pickled the standard way for
plain objects: the class is created empty (NEWOBJ, or `copy_reg._reconstructor` in protocols 0/1) and its
state dict is applied with BUILD. A `Ch` keeps its array in state['x'] (chumpy's `__getstate__` returns
the instance dict minus caches); a sparse matrix keeps 'data', 'indices', 'indptr' and '_shape' (very old
scipy: 'shape'). Stand-in classes below receive those states; nothing from chumpy or scipy is imported.

DECA's `landmark_embedding.npy` is a .npy file holding one pickled dict (numpy arrays, plus torch tensors
for the dynamic contour which are not needed here); FLAME's own `flame_static_embedding.pkl` is a plain
pickle of a dict. Both are read through the same whitelist.
"""

from __future__ import annotations

import ast
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from next3d.errors import BadInputError
from next3d.io.safe_pickle import builtin_types, numpy_types, safe_load

NPY_MAGIC = b"\x93NUMPY"


class ChumpyArray:
    """Stands in for `chumpy.ch.Ch` while unpickling: keeps the array from the state, ignores the rest."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or "x" not in state:
            raise BadInputError("a chumpy object without an array ('x') in its state; only plain Ch arrays "
                                "are supported")
        self.array = np.asarray(state["x"])


class SparseMatrix:
    """Stands in for a scipy sparse matrix (compressed columns or rows) while unpickling."""

    compressed_axis = "columns"

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or not {"data", "indices", "indptr"} <= set(state):
            raise BadInputError("a sparse matrix without data/indices/indptr in its state")
        self.state = state

    def to_dense(self) -> np.ndarray:
        """The matrix as a dense float64 array (duplicates summed, like scipy)."""
        data = np.asarray(self.state["data"], dtype=np.float64)
        indices = np.asarray(self.state["indices"], dtype=np.int64)
        indptr = np.asarray(self.state["indptr"], dtype=np.int64)
        shape = self.state.get("_shape", self.state.get("shape"))
        if shape is None or len(shape) != 2:
            raise BadInputError("a sparse matrix without a 2-D shape in its state")
        rows, cols = int(shape[0]), int(shape[1])
        outer = cols if self.compressed_axis == "columns" else rows
        inner = rows if self.compressed_axis == "columns" else cols
        if len(indptr) != outer + 1 or indptr[-1] != len(data) or len(indices) != len(data) or (
                len(indices) and (indices.min() < 0 or indices.max() >= inner)):
            raise BadInputError(f"a sparse matrix of shape {rows}x{cols} with inconsistent index arrays")
        dense = np.zeros((rows, cols))
        outer_index = np.repeat(np.arange(outer), np.diff(indptr))
        if self.compressed_axis == "columns":
            np.add.at(dense, (indices, outer_index), data)
        else:
            np.add.at(dense, (outer_index, indices), data)
        return dense


class SparseRowMatrix(SparseMatrix):
    """Stands in for scipy's `csr_matrix`."""

    compressed_axis = "rows"


class UnusedTensor:
    """Stands in for a torch tensor inside a landmark file (DECA's dynamic contour); its data is never read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


def _unused(*args: Any, **kwargs: Any) -> UnusedTensor:
    return UnusedTensor()


def flame_whitelist() -> dict:
    """numpy, plain containers, and stand-ins for chumpy arrays, scipy sparse matrices and torch tensors."""
    allowed = {**builtin_types(), **numpy_types()}
    allowed[("chumpy.ch", "Ch")] = ChumpyArray
    for module in ("scipy.sparse.csc", "scipy.sparse._csc"):
        allowed[(module, "csc_matrix")] = SparseMatrix
    for module in ("scipy.sparse.csr", "scipy.sparse._csr"):
        allowed[(module, "csr_matrix")] = SparseRowMatrix
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3"):
        allowed[("torch._utils", name)] = _unused
    allowed[("torch.storage", "_load_from_bytes")] = _unused
    return allowed


def plain_value(value: Any) -> Any:
    """Stand-ins -> numpy arrays (chumpy arrays, dense sparse matrices); other values unchanged."""
    if isinstance(value, ChumpyArray):
        return value.array
    if isinstance(value, SparseMatrix):
        return value.to_dense()
    return value


def read_flame_pickle(path: str | os.PathLike) -> dict[str, Any]:
    """FLAME's `generic_model.pkl` as a dict of plain values (numpy arrays, strings)."""
    path = Path(path)
    what = f"FLAME model '{path}'"
    data = safe_load(path, flame_whitelist(), what=what, encoding="latin1")
    if not isinstance(data, dict):
        raise BadInputError(f"{what}: holds a {type(data).__name__}, expected a dict of arrays")
    return {str(key): plain_value(value) for key, value in data.items()}


@dataclass
class LandmarkEmbedding:
    """Landmarks as (face index, barycentric coordinates) on the FLAME mesh, with their iBUG-68 numbers."""

    faces: np.ndarray   # (L,) int64
    bary: np.ndarray    # (L, 3) float64
    ibug: np.ndarray    # (L,) int64: iBUG-68 index of each landmark
    layout: str         # which keys were used, for provenance


def read_landmark_embedding(path: str | os.PathLike) -> LandmarkEmbedding:
    """DECA's landmark_embedding.npy (68 points: full_lmk_*) or FLAME's static embedding (51 points)."""
    path = Path(path)
    what = f"landmark embedding '{path}'"
    if not path.is_file():
        raise BadInputError(f"{what}: file not found")
    raw = path.read_bytes()
    if raw.startswith(NPY_MAGIC):
        payload = _npy_object_payload(raw, what)
        loaded = safe_load(payload, flame_whitelist(), what=what, encoding="latin1")
        wrapped = isinstance(loaded, np.ndarray) and loaded.dtype == object and loaded.size == 1
        data = loaded.item() if wrapped else loaded
    else:
        data = safe_load(raw, flame_whitelist(), what=what, encoding="latin1")
    if not isinstance(data, dict):
        raise BadInputError(f"{what}: holds a {type(data).__name__}, expected a dict")
    data = {str(k): plain_value(v) for k, v in data.items()}
    for face_key, bary_key, first_ibug in (("full_lmk_faces_idx", "full_lmk_bary_coords", 0),
                                           ("static_lmk_faces_idx", "static_lmk_bary_coords", 17),
                                           ("lmk_face_idx", "lmk_b_coords", 17)):
        if face_key in data and bary_key in data:
            faces = np.asarray(data[face_key]).reshape(-1).astype(np.int64)
            bary = np.asarray(data[bary_key], dtype=np.float64).reshape(-1, 3)
            if len(faces) != len(bary) or len(faces) + first_ibug != 68:
                raise BadInputError(f"{what}: {face_key} has {len(faces)} entries and {bary_key} {len(bary)}; "
                                    f"expected {68 - first_ibug} each")
            return LandmarkEmbedding(faces=faces, bary=bary, ibug=np.arange(first_ibug, 68),
                                     layout=f"{face_key}/{bary_key}")
    raise BadInputError(f"{what}: has none of the known keys (full_lmk_faces_idx + full_lmk_bary_coords, "
                        f"static_lmk_faces_idx + static_lmk_bary_coords, lmk_face_idx + lmk_b_coords); "
                        f"found {sorted(data)}")


def _npy_object_payload(raw: bytes, what: str) -> bytes:
    """The pickle inside a .npy file that stores a Python object (dtype '|O'); the header is parsed as a literal."""
    try:
        major = raw[6]
        if major == 1:
            header_len = struct.unpack("<H", raw[8:10])[0]
            start = 10
        else:
            header_len = struct.unpack("<I", raw[8:12])[0]
            start = 12
        header = ast.literal_eval(raw[start:start + header_len].decode("latin1"))
    except (IndexError, struct.error, ValueError, SyntaxError) as exc:
        raise BadInputError(f"{what}: malformed .npy header ({exc})") from exc
    if not isinstance(header, dict) or header.get("descr") != "|O":
        raise BadInputError(f"{what}: the .npy file holds a plain array, expected a pickled dict (dtype object)")
    return raw[start + header_len:]
