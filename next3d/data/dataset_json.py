"""Reading and writing dataset.json: EG3D's labels plus optional per-image head parameters or vertex files.

Parsing checks every entry's structure and values (names, 25 finite numbers, orthonormal rotation, positive
focal, head vector length, duplicates) and returns the problems it found instead of stopping at the first,
so callers can either raise on the first one or drop the bad entries (`--skip-bad`).
"""

from __future__ import annotations

import difflib
import json
import math

import numpy as np

from next3d.data.names import name_problem
from next3d.data.schema import (
    FIXED_FIELD_SIZES,
    HEAD_FIELDS,
    HEAD_KEYS,
    TOP_LEVEL_KEYS,
    DatasetIndex,
    EntryProblem,
    HeadSection,
)
from next3d.errors import BadInputError
from next3d.render.camera import LABEL_DIM, validate_label

ORTHONORMAL_TOLERANCE = 1e-3  # the same tolerance as camera.validate_label


def parse_json_bytes(data: bytes, where: str = "dataset.json") -> dict:
    """Decode the JSON document (no code runs: plain json), requiring a top-level object."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise BadInputError(f"{where}: the top level must be an object with a \"labels\" list, "
                            f"got {type(doc).__name__}")
    return doc


def parse_index(doc: dict, where: str = "dataset.json") -> tuple[DatasetIndex, list[EntryProblem]]:
    """All entries of a decoded dataset.json and the problems of each (structure errors raise at once).

    Entries with problems stay in the index (their label is NaN) so positions match dataset.json.
    """
    check_keys(doc, TOP_LEVEL_KEYS, where)
    if "labels" not in doc or doc["labels"] is None:
        raise BadInputError(f"{where}: has no \"labels\" list; every image needs its 25-number camera label")
    raw = doc["labels"]
    if not isinstance(raw, list):
        raise BadInputError(f"{where}: \"labels\" must be a list of [filename, [25 numbers]], got {type(raw).__name__}")
    problems: list[EntryProblem] = []
    names = [""] * len(raw)
    labels = np.full((len(raw), LABEL_DIM), np.nan)
    first_use: dict[str, int] = {}
    for i, item in enumerate(raw):
        name, values, message = _split_pair(item, "[filename, [25 numbers]]")
        names[i] = name if isinstance(name, str) else ""
        message = message or name_problem(name)
        if message is None and name in first_use:
            message = f"listed twice (first as entry {first_use[name]})"
        if message is None:
            first_use[name] = i
            message, vector = _numbers(values, LABEL_DIM, "label")
            if message is None:
                labels[i] = vector
        if message is not None:
            problems.append(EntryProblem(i, names[i], message))
    problems += _camera_problems(labels, names, {p.entry for p in problems})
    index = DatasetIndex(names=names, labels=labels, meta=_meta(doc, where))
    if doc.get("head") is not None:
        index.head_section, index.head = _parse_head(doc["head"], first_use, len(raw), problems, where)
    if doc.get("vertices") is not None:
        index.vertex_files = _parse_vertices(doc["vertices"], first_use, len(raw), problems, where)
    return index, problems


def index_to_json(index: DatasetIndex) -> dict:
    """The dataset.json document for `index` (floats written exactly, entries in index order)."""
    doc: dict = {"labels": [[name, [float(v) for v in row]] for name, row in zip(index.names, index.labels)]}
    if index.head_section is not None:
        doc["head"] = index.head_section.to_json()
        doc["head"]["params"] = [[name, [float(v) for v in row]] for name, row in zip(index.names, index.head)]
    if index.vertex_files is not None:
        doc["vertices"] = [[name, path] for name, path in zip(index.names, index.vertex_files)]
    if index.meta:
        doc["meta"] = index.meta
    return doc


def dump_dataset_json(index: DatasetIndex) -> bytes:
    """dataset.json bytes: deterministic (same index -> same bytes), one entry per line for readable diffs."""
    doc = index_to_json(index)
    lines = ["{"]
    sections = [key for key in TOP_LEVEL_KEYS if key in doc]
    for s, key in enumerate(sections):
        end = "," if s < len(sections) - 1 else ""
        value = doc[key]
        if key == "labels" or key == "vertices":
            lines.append(f'  "{key}": {_list_lines(value, "  ")}{end}')
        elif key == "head":
            inner = [f'    "{k}": {json.dumps(value[k])},' for k in ("model", "fields", "sizes")]
            lines += ['  "head": {', *inner, f'    "params": {_list_lines(value["params"], "    ")}', f"  }}{end}"]
        else:
            lines.append(f'  "{key}": {json.dumps(value, sort_keys=True)}{end}')
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _list_lines(items: list, indent: str) -> str:
    if not items:
        return "[]"
    body = ",\n".join(f"{indent}  {json.dumps(item, allow_nan=False)}" for item in items)
    return f"[\n{body}\n{indent}]"


def check_keys(doc: dict, allowed: tuple[str, ...], where: str) -> None:
    for key in doc:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean \"{close[0]}\"?)" if close else ""
            raise BadInputError(f"{where}: unknown key \"{key}\"{hint}; allowed keys: {', '.join(allowed)}")


def _split_pair(item, shape: str):
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        return None, None, f"expected a pair {shape}, got {_describe(item)}"
    return item[0], item[1], None


def _numbers(values, expected: int, what: str) -> tuple[str | None, np.ndarray | None]:
    if not isinstance(values, (list, tuple)):
        return f"{what} must be a list of {expected} numbers, got {_describe(values)}", None
    if len(values) != expected:
        return f"{what} has {len(values)} numbers, expected {expected}", None
    for j, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return f"{what} element {j} is {_describe(v)}, not a number", None
        if not math.isfinite(v):
            return f"{what} element {j} is {'NaN' if math.isnan(v) else 'Inf'}", None
    return None, np.asarray(values, dtype=np.float64)


def _camera_problems(labels: np.ndarray, names: list[str], already_bad: set[int]) -> list[EntryProblem]:
    """Orthonormal rotation and positive focal for every well-formed label (vectorized, messages shared)."""
    ok = np.isfinite(labels).all(axis=1)
    rot = labels[:, :16].reshape(-1, 4, 4)[:, :3, :3]
    err = np.abs(np.einsum("nji,njk->nik", rot, rot) - np.eye(3)).max(axis=(1, 2))
    bad = ok & ((err > ORTHONORMAL_TOLERANCE) | (labels[:, 16] <= 0) | (labels[:, 20] <= 0))
    problems = []
    for i in np.flatnonzero(bad):
        if int(i) in already_bad:
            continue
        try:
            validate_label(labels[i], where="label")
            message = "label is not a valid camera"
        except BadInputError as exc:
            message = str(exc)
        labels[i] = np.nan
        problems.append(EntryProblem(int(i), names[i], message))
    return problems


def _meta(doc: dict, where: str) -> dict:
    meta = doc.get("meta") or {}
    if not isinstance(meta, dict):
        raise BadInputError(f"{where}: \"meta\" must be an object, got {type(meta).__name__}")
    return meta


def _parse_head(head, first_use: dict[str, int], n: int, problems: list[EntryProblem], where: str):
    if not isinstance(head, dict):
        raise BadInputError(f"{where}: \"head\" must be an object with fields, sizes and params")
    check_keys(head, HEAD_KEYS, f"{where} \"head\"")
    section = _head_section(head, where)
    raw = head.get("params")
    if not isinstance(raw, list):
        raise BadInputError(f"{where}: head.params must be a list of [filename, [{section.dim} numbers]]")
    vectors = np.full((n, section.dim), np.nan)
    seen: dict[str, int] = {}
    for j, item in enumerate(raw):
        name, values, message = _split_pair(item, f"[filename, [{section.dim} numbers]]")
        if message is None and not isinstance(name, str):
            message = f"file name must be a string, got {_describe(name)}"
        elif message is None and name in seen:
            message = f"head parameters given twice (also head.params entry {seen[name]})"
        elif message is None and name not in first_use:
            message = "not an entry of \"labels\" (unknown file)"
        if message is not None:
            problems.append(EntryProblem(j, name if isinstance(name, str) else "", message, section="head.params"))
            continue
        seen[name] = j
        message, vector = _numbers(values, section.dim, "head parameter vector")
        if message is not None:
            message += f" ({_field_list(section)})" if "numbers, expected" in message else ""
            problems.append(EntryProblem(first_use[name], name, message))
        else:
            vectors[first_use[name]] = vector
    for name, i in first_use.items():
        if name not in seen:
            problems.append(EntryProblem(i, name, "has no head parameters in head.params"))
    return section, vectors


def _head_section(head: dict, where: str) -> HeadSection:
    fields, sizes = head.get("fields"), head.get("sizes")
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise BadInputError(f"{where}: head.fields must be a list of names, e.g. {list(HEAD_FIELDS)}")
    if tuple(fields) != HEAD_FIELDS:
        raise BadInputError(f"{where}: head.fields is {fields}; expected {list(HEAD_FIELDS)} "
                            "(HeadParams.to_vector order)")
    if (not isinstance(sizes, list) or len(sizes) != len(fields)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes)):
        raise BadInputError(f"{where}: head.sizes must be {len(fields)} non-negative integers, got {sizes!r}")
    for name, size in zip(fields, sizes):
        if name in FIXED_FIELD_SIZES and size != FIXED_FIELD_SIZES[name]:
            raise BadInputError(f"{where}: head.sizes gives {name} {size} numbers, expected "
                                f"{FIXED_FIELD_SIZES[name]}")
    model = head.get("model") or {}
    if not isinstance(model, dict) or not all(isinstance(model.get(k), (str, type(None))) for k in ("name", "hash")):
        raise BadInputError(f"{where}: head.model must be an object {{\"name\": str, \"hash\": str}}")
    return HeadSection(tuple(fields), tuple(sizes), model.get("name"), model.get("hash"))


def _field_list(section: HeadSection) -> str:
    return " + ".join(f"{f} {s}" for f, s in zip(section.fields, section.sizes))


def _parse_vertices(raw, first_use: dict[str, int], n: int, problems: list[EntryProblem], where: str):
    if not isinstance(raw, list):
        raise BadInputError(f"{where}: \"vertices\" must be a list of [image filename, \"path/to/file.npy\"]")
    files: list[str] = [""] * n
    seen: dict[str, int] = {}
    used: dict[str, str] = {}
    for j, item in enumerate(raw):
        name, path, message = _split_pair(item, "[image filename, \"verts.npy\"]")
        shown = name if isinstance(name, str) else ""
        if message is None and not isinstance(name, str):
            message = f"file name must be a string, got {_describe(name)}"
        elif message is None and name not in first_use:
            message = "not an entry of \"labels\" (unknown file)"
        elif message is None and name in seen:
            message = f"vertex file given twice (also vertices entry {seen[name]})"
        if message is not None:
            problems.append(EntryProblem(j, shown, message, section="vertices"))
            continue
        seen[name] = j
        message = name_problem(path)
        if message is None and not path.lower().endswith(".npy"):
            message = f"vertex file {path!r} must be a .npy array (V, 3)"
        if message is None and path in used:
            message = f"vertex file {path!r} is also used by {used[path]}; every image needs its own file"
        if message is None and path in first_use:
            message = f"vertex file {path!r} is an image of this dataset"
        if message is not None:
            problems.append(EntryProblem(first_use[name], name, message))
            continue
        used[path] = name
        files[first_use[name]] = path
    for name, i in first_use.items():
        if name not in seen:
            problems.append(EntryProblem(i, name, "has no vertex file in \"vertices\""))
    return files


def _describe(value) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
