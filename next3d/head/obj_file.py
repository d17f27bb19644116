"""A small Wavefront OBJ reader for head templates: positions, texture coordinates and faces."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from next3d.errors import BadInputError


@dataclass
class ObjMesh:
    """An OBJ's geometry; polygons are fan-triangulated. `uv_faces` is None when the file has no `vt`."""

    vertices: np.ndarray         # (V, 3) float64
    uvs: np.ndarray              # (T, 2) float64, OBJ convention (v up)
    faces: np.ndarray            # (F, 3) int64, 0-based
    uv_faces: np.ndarray | None  # (F, 3) int64, 0-based indices into uvs


def read_obj(path: str | os.PathLike) -> ObjMesh:
    """Parse `v`, `vt` and `f` lines (`f a/b/c`, `a/b`, `a//c` or `a`; negative indices allowed)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"OBJ file '{path}': not found")
    vertices: list[list[float]] = []
    uvs: list[list[float]] = []
    faces: list[list[int]] = []
    uv_faces: list[list[int]] = []
    faces_without_uv = 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BadInputError(f"OBJ file '{path}': cannot be read ({exc})") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            if parts[0] == "v":
                vertices.append([float(x) for x in parts[1:4]])
                if len(vertices[-1]) != 3:
                    raise ValueError("a vertex needs 3 coordinates")
            elif parts[0] == "vt":
                uvs.append([float(x) for x in parts[1:3]])
                if len(uvs[-1]) != 2:
                    raise ValueError("a texture coordinate needs 2 numbers")
            elif parts[0] == "f":
                corners = [_parse_corner(c, len(vertices), len(uvs)) for c in parts[1:]]
                if len(corners) < 3:
                    raise ValueError("a face needs at least 3 corners")
                for k in range(1, len(corners) - 1):  # fan triangulation
                    tri = (corners[0], corners[k], corners[k + 1])
                    faces.append([c[0] for c in tri])
                    if all(c[1] is not None for c in tri):
                        uv_faces.append([c[1] for c in tri])
                    else:
                        faces_without_uv += 1
        except (ValueError, IndexError) as exc:
            raise BadInputError(f"OBJ file '{path}', line {number}: {exc}: {line.strip()[:80]!r}") from exc
    if not vertices or not faces:
        raise BadInputError(f"OBJ file '{path}': has no vertices or no faces")
    has_uvs = faces_without_uv == 0 and len(uv_faces) == len(faces)
    return ObjMesh(vertices=np.array(vertices, dtype=np.float64), uvs=np.array(uvs, dtype=np.float64).reshape(-1, 2),
                   faces=np.array(faces, dtype=np.int64),
                   uv_faces=np.array(uv_faces, dtype=np.int64) if has_uvs else None)


def _parse_corner(token: str, num_vertices: int, num_uvs: int) -> tuple[int, int | None]:
    fields = token.split("/")
    vertex = _resolve(int(fields[0]), num_vertices, "vertex")
    uv = _resolve(int(fields[1]), num_uvs, "texture coordinate") if len(fields) > 1 and fields[1] else None
    return vertex, uv


def _resolve(index: int, count: int, what: str) -> int:
    resolved = index - 1 if index > 0 else count + index
    if not 0 <= resolved < count:
        raise ValueError(f"{what} index {index} refers to an undefined {what} (only {count} so far)")
    return resolved
