"""`dataset pack`: turn images plus cameras / head parameters / vertices fitted elsewhere into the EG3D layout.

Every image is decoded and every value checked; a bad entry stops the pack with a message naming it (or is
dropped and counted with `skip_bad`). The output appears only when complete (see writer.py).
"""

from __future__ import annotations

import collections
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from next3d.data.image_io import decode_image, encode_png, read_header
from next3d.data.pack_inputs import InputTable, list_images, read_cameras, read_head_params, read_vertices
from next3d.data.schema import DatasetIndex, HeadSection
from next3d.data.vertex_io import encode_npy
from next3d.data.writer import DatasetWriter, check_output
from next3d.errors import BadInputError
from next3d.render.camera import validate_label


@dataclass
class PackSources:
    """Where the user's data comes from (paths as given on the command line)."""

    images: Path
    cameras: Path
    head_params: Path | None = None
    vertices: Path | None = None


@dataclass
class PackReport:
    """What `pack_dataset` wrote and what it dropped."""

    out: Path
    written: int
    resolution: int
    problems: list[str] = field(default_factory=list)


def pack_dataset(sources: PackSources, out: str | Path, head_section: HeadSection | None = None,
                 vertex_count: int | None = None, resolution: int | None = None, skip_bad: bool = False,
                 force: bool = False, progress: bool = True) -> PackReport:
    """Validate every entry and write the dataset to `out` (a folder, or a zip when it ends in .zip).

    `head_section` (fields, sizes, model) is required with head parameters; `vertex_count` (the head model's V)
    is checked against vertex files when given. `resolution` resizes every image (written as PNG).
    """
    out = Path(out)
    check_output(out, force)
    if sources.head_params is not None and head_section is None:
        raise BadInputError("--head-params needs the head model's field sizes (choose it with --head)")
    names = list_images(sources.images)
    tables = {"camera": read_cameras(sources.cameras, names)}
    if sources.head_params is not None:
        sizes = dict(zip(head_section.fields, head_section.sizes))
        tables["head parameters"] = read_head_params(sources.head_params, names, sizes)
    if sources.vertices is not None:
        tables["vertices"] = read_vertices(sources.vertices, names)
    problems = _table_problems(tables, names, sources) + _shared_stems(names)
    bad = {name for name, _ in problems}
    _check_cameras(tables["camera"], names, bad, problems)
    if "vertices" in tables:
        _check_vertex_counts(tables["vertices"], names, vertex_count, bad, problems)
    target = resolution or _common_size(sources.images, names, bad, problems)
    if problems and not skip_bad:
        _raise_first(problems, sources.images)
    with DatasetWriter(out, force=force) as writer:
        index = _write_entries(writer, sources.images, names, tables, head_section, resolution, bad, problems,
                               skip_bad, progress)
        if problems and not skip_bad:
            _raise_first(problems, sources.images)
        if not len(index):
            raise BadInputError(f"--images {sources.images}: no usable entries (all {len(names)} are bad)")
        writer.finish(index)
    return PackReport(out, len(index), target, [_message(p, sources.images) for p in problems])


def _message(problem: tuple[str, str], images: Path) -> str:
    return f"{images.name}/{problem[0]}: {problem[1]}"


def _raise_first(problems: list[tuple[str, str]], images: Path):
    more = f" (and {len(problems) - 1} more; --skip-bad drops bad entries)" if len(problems) > 1 else ""
    raise BadInputError(_message(problems[0], images) + more)


def _table_problems(tables: dict[str, InputTable], names: list[str], sources: PackSources):
    problems = []
    for what, table in tables.items():
        for name in names:
            if name in table.problems:
                problems.append((name, f"{what}: {table.problems[name]}"))
            elif name not in table.values:
                problems.append((name, f"no {what} given"))
        for key in table.unknown:
            problems.append((key, f"{what} given for an image that is not in --images {sources.images}"))
    return problems


def _shared_stems(names: list[str]):
    """Images whose names differ only in suffix (a.png, a.jpg) cannot be told apart by per-image files."""
    by_stem = collections.defaultdict(list)
    for name in names:
        by_stem[name.rsplit(".", 1)[0]].append(name)
    return [(n, f"shares its name with {', '.join(o for o in group if o != n)}; rename one")
            for group in by_stem.values() if len(group) > 1 for n in group]


def _check_cameras(table: InputTable, names, bad, problems) -> None:
    for name in names:
        if name in bad:
            continue
        try:
            validate_label(table.values[name], where="camera")
        except BadInputError as exc:
            bad.add(name)
            problems.append((name, str(exc)))


def _check_vertex_counts(table: InputTable, names, vertex_count, bad, problems) -> None:
    counts = {n: table.values[n].shape[0] for n in names if n not in bad}
    expected = vertex_count or _most_common(counts)
    for name, count in counts.items():
        if count != expected:
            bad.add(name)
            problems.append((name, f"vertices: {count} vertices, expected {expected}"))


def _common_size(folder: Path, names, bad, problems) -> int | None:
    """The most common image size (from headers); images of another size become problems."""
    sizes = {}
    for name in names:
        if name in bad:
            continue
        with open(folder / name, "rb") as f:
            header, message = read_header(f)
        if message is not None:
            bad.add(name)
            problems.append((name, message))
        else:
            sizes[name] = header.width
    target = _most_common(sizes)
    for name, size in sizes.items():
        if size != target:
            bad.add(name)
            message = f"image is {size}x{size}, most others {target}x{target}; pass --resolution to resize all"
            problems.append((name, message))
    return target


def _write_entries(writer, folder, names, tables, head_section, resolution, bad, problems, skip_bad, progress) -> DatasetIndex:
    """Decode each good image (validating it), store it (re-encoded only when it must be) with its data."""
    kept, out_names = [], []
    for name in tqdm(names, desc="packing", unit="img", disable=not progress, leave=False):
        if name in bad:
            continue
        data = (folder / name).read_bytes()
        try:
            pixels = decode_image(data, resolution)
        except ValueError as exc:
            problems.append((name, str(exc)))
            if not skip_bad:
                break
            continue
        if resolution is not None or not _is_plain_rgb_png_or_jpeg(data):
            data = encode_png(pixels)
        out_name = _output_name(name, data)
        writer.add(out_name, data)
        if "vertices" in tables:
            writer.add(_vertex_name(name), encode_npy(tables["vertices"].values[name]))
        kept.append(name)
        out_names.append(out_name)
    labels = np.stack([tables["camera"].values[n] for n in kept]) if kept else np.zeros((0, 25))
    head = np.stack([tables["head parameters"].values[n] for n in kept]) if "head parameters" in tables and kept \
        else None
    vertex_files = [_vertex_name(n) for n in kept] if "vertices" in tables else None
    return DatasetIndex(out_names, labels, head_section if head is not None else None, head, vertex_files,
                        meta={"made_by": "next3d dataset pack"})


def _is_plain_rgb_png_or_jpeg(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as img:
        return img.mode == "RGB" and img.format in ("PNG", "JPEG")


def _vertex_name(name: str) -> str:
    return f"verts/{name.rsplit('.', 1)[0]}.npy"


def _output_name(name: str, data: bytes) -> str:
    """Re-encoded images become .png; originals keep their name."""
    is_png = data[:8] == b"\x89PNG\r\n\x1a\n"
    return name if is_png == name.lower().endswith(".png") else f"{name.rsplit('.', 1)[0]}.png"


def _most_common(values: dict) -> int | None:
    return collections.Counter(values.values()).most_common(1)[0][0] if values else None
