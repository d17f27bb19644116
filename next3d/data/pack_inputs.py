"""Reading what a user fitted elsewhere: cameras, head parameters and vertices for a folder of images.

Each reader returns {image name: value} plus per-name problems; matching keys are the image's relative
path ("sub/img01.png") or that path without its suffix ("sub/img01"). Formats: docs/datasets.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from next3d.data.dataset_json import check_keys, parse_json_bytes
from next3d.data.names import IMAGE_SUFFIXES
from next3d.data.schema import TOP_LEVEL_KEYS
from next3d.errors import BadInputError
from next3d.render.camera import LABEL_DIM

PER_IMAGE_SUFFIXES = (".json", ".npy", ".txt")


@dataclass
class InputTable:
    """Values keyed by image name, the problems of keyed entries, and keys matching no image."""

    values: dict[str, object] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


def list_images(folder: Path) -> list[str]:
    """Relative POSIX names of every PNG/JPEG under `folder`, sorted."""
    if not folder.is_dir():
        raise BadInputError(f"--images {folder}: not a folder")
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not names:
        raise BadInputError(f"--images {folder}: holds no .png/.jpg/.jpeg images")
    return names


def read_cameras(source: Path, images: list[str]) -> InputTable:
    """Camera labels (25,) float64 per image from one JSON file or a folder of per-image files."""
    if source.is_dir():
        return _per_image(source, images, _camera_from_file, "camera")
    doc = _json_file(source, "--cameras")
    if isinstance(doc, dict) and isinstance(doc.get("labels"), list):  # an EG3D dataset.json
        check_keys(doc, TOP_LEVEL_KEYS, f"--cameras {source}")
        return _match(_pairs(doc["labels"], f"--cameras {source}: \"labels\""), images, camera_from_value)
    if not isinstance(doc, dict):
        raise BadInputError(f"--cameras {source}: expected an object {{image: [25 numbers] | "
                            "{\"cam2world\": 4x4, \"intrinsics\": 3x3}} or EG3D {\"labels\": [...]}")
    return _match(list(doc.items()), images, camera_from_value)


def read_head_params(source: Path, images: list[str], sizes: dict[str, int]) -> InputTable:
    """Head-parameter vectors per image (HeadParams.to_vector order for `sizes`) from a JSON file or folder."""
    if source.is_dir():
        return _per_image(source, images, lambda p: _head_from_file(p, sizes), "head parameters")
    doc = _json_file(source, "--head-params")
    if isinstance(doc, dict) and "params" in doc:
        declared = doc.get("sizes")
        if declared is not None and doc.get("fields") is not None:
            given = dict(zip(doc["fields"], declared)) if isinstance(doc["fields"], list) else None
            if given != sizes:
                raise BadInputError(f"--head-params {source}: fields/sizes {given} do not match the head model "
                                    f"({sizes}); choose the head model with --head")
        doc = doc["params"]
    if isinstance(doc, list):
        return _match(_pairs(doc, f"--head-params {source}: \"params\""), images,
                      lambda value: head_from_value(value, sizes))
    if not isinstance(doc, dict):
        raise BadInputError(f"--head-params {source}: expected an object {{image: vector | {{field: [...]}}}}")
    return _match(list(doc.items()), images, lambda value: head_from_value(value, sizes))


def read_vertices(source: Path, images: list[str]) -> InputTable:
    """Vertex arrays (V, 3) float32 per image from a folder of `<image path without suffix>.npy` files."""
    if not source.is_dir():
        raise BadInputError(f"--vertices {source}: must be a folder of per-image .npy files")
    return _per_image(source, images, _vertices_from_file, "vertices", suffixes=(".npy",))


def camera_from_value(value) -> np.ndarray:
    """A label from [25 numbers] or {"cam2world": 4x4, "intrinsics": 3x3 normalized (optional)}."""
    if isinstance(value, dict):
        unknown = set(value) - {"cam2world", "intrinsics"}
        if unknown:
            raise ValueError(f"camera has unknown keys {sorted(unknown)}; expected cam2world, intrinsics")
        pose = _float_array(value.get("cam2world"), "cam2world")
        if pose.shape != (4, 4):
            raise ValueError(f"cam2world has shape {pose.shape}, expected 4x4")
        k = value.get("intrinsics")
        k = np.array([[4.2647, 0, 0.5], [0, 4.2647, 0.5], [0, 0, 1]]) if k is None else _float_array(k, "intrinsics")
        if k.shape != (3, 3):
            raise ValueError(f"intrinsics has shape {k.shape}, expected 3x3")
        return np.concatenate([pose.reshape(-1), k.reshape(-1)])
    label = _float_array(value, "label").reshape(-1)
    if label.size != LABEL_DIM:
        raise ValueError(f"label has {label.size} numbers, expected {LABEL_DIM}")
    return label


def head_from_value(value, sizes: dict[str, int]) -> np.ndarray:
    """A head vector from a flat list (full length) or a {field: numbers} object (missing fields zero,
    shorter shape/expression zero-padded, as usual for FLAME-style fits)."""
    total = sum(sizes.values())
    if not isinstance(value, dict):
        vector = _float_array(value, "head parameter vector").reshape(-1)
        if vector.size != total:
            parts = " + ".join(f"{k} {v}" for k, v in sizes.items())
            raise ValueError(f"head parameter vector has {vector.size} numbers, expected {total} ({parts})")
        return vector
    unknown = set(value) - set(sizes)
    if unknown:
        raise ValueError(f"unknown head fields {sorted(unknown)}; expected some of {list(sizes)}")
    parts = []
    for name, size in sizes.items():
        part = np.zeros(size) if value.get(name) is None else _float_array(value[name], name).reshape(-1)
        if part.size > size:
            raise ValueError(f"{name} has {part.size} numbers, the head model takes {size}")
        if part.size < size and name not in ("shape", "expression"):
            raise ValueError(f"{name} has {part.size} numbers, expected {size}")
        parts.append(np.pad(part, (0, size - part.size)))
    return np.concatenate(parts) if parts else np.zeros(0)


def _float_array(value, what: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not a list of numbers") from None
    if array.dtype == object or (array.size and not np.isfinite(array).all()):
        raise ValueError(f"{what} contains NaN, Inf or non-numbers")
    return array


def _json_file(path: Path, option: str):
    if not path.is_file():
        raise BadInputError(f"{option} {path}: no such file or folder")
    try:
        return parse_json_bytes(path.read_bytes(), f"{option} {path}")
    except BadInputError:
        raise
    except OSError as exc:
        raise BadInputError(f"{option} {path}: cannot read ({exc})") from None


def _keys_for(images: list[str]) -> dict[str, str]:
    keys = {}
    for name in images:
        keys[name] = name
        keys.setdefault(name.rsplit(".", 1)[0], name)
    return keys


def _pairs(items, where: str) -> list[tuple[str, object]]:
    if not isinstance(items, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                                              for p in items):
        raise BadInputError(f"{where} must be a list of [filename, value] pairs")
    return [(p[0], p[1]) for p in items]


def _match(pairs: list[tuple[str, object]], images: list[str], convert) -> InputTable:
    table, keys = InputTable(), _keys_for(images)
    for key, value in pairs:
        name = keys.get(key)
        if name is None:
            table.unknown.append(key)
            continue
        if name in table.values or name in table.problems:
            table.problems[name] = f"given twice (as {key!r} and another key)"
            table.values.pop(name, None)
            continue
        try:
            table.values[name] = convert(value)
        except ValueError as exc:
            table.problems[name] = str(exc)
    return table


def _per_image(folder: Path, images: list[str], load, what: str, suffixes=PER_IMAGE_SUFFIXES) -> InputTable:
    table, stems = InputTable(), {n.rsplit(".", 1)[0]: n for n in images}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes):
        stem = path.relative_to(folder).with_suffix("").as_posix()
        name = stems.get(stem)
        if name is None:
            table.unknown.append(path.relative_to(folder).as_posix())
            continue
        if name in table.values or name in table.problems:
            table.problems[name] = f"more than one {what} file ({path.name} and another)"
            table.values.pop(name, None)
            continue
        try:
            table.values[name] = load(path)
        except ValueError as exc:
            table.problems[name] = f"{path.name}: {exc}"
    return table


def _load_file(path: Path):
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"not a readable .npy array ({exc})") from None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        return [float(t) for t in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError("must hold whitespace- or comma-separated numbers") from None


def _camera_from_file(path: Path) -> np.ndarray:
    return camera_from_value(_load_file(path))


def _head_from_file(path: Path, sizes: dict[str, int]) -> np.ndarray:
    return head_from_value(_load_file(path), sizes)


def _vertices_from_file(path: Path) -> np.ndarray:
    array = _load_file(path)
    if array.dtype.kind != "f" or array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"holds {array.dtype} {tuple(array.shape)}, expected float (V, 3)")
    if not np.isfinite(array).all():
        raise ValueError("contains NaN or Inf")
    return array.astype(np.float32)

