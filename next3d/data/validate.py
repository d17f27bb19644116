"""Opening a dataset: parse dataset.json, check every entry against the stored files, drop or report the bad.

Checked on open (fast, headers only): every referenced file exists, images are PNG/JPEG, square, 8-bit and
of one resolution, vertex files are float (V, 3) .npy arrays of one V. `verify_pixels=True` (used by
`dataset check`) also decodes every image and vertex file.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field

from tqdm import tqdm

from next3d.data.dataset_json import parse_index, parse_json_bytes
from next3d.data.image_io import decode_image, read_header
from next3d.data.names import is_image_name
from next3d.data.schema import DatasetIndex, EntryProblem
from next3d.data.storage import DatasetStorage
from next3d.data.vertex_io import load_vertices, read_npy_shape
from next3d.errors import BadInputError

DATASET_JSON = "dataset.json"


@dataclass
class OpenedDataset:
    """A validated dataset: its storage, its usable entries, and what was found wrong or dropped."""

    storage: DatasetStorage
    index: DatasetIndex
    stored_resolution: int
    vertex_count: int | None
    total_entries: int
    problems: list[EntryProblem] = field(default_factory=list)
    unlisted_images: int = 0

    @property
    def skipped(self) -> int:
        """How many dataset.json entries (of any section) were dropped as bad."""
        return len({(p.section, p.entry) for p in self.problems})


def open_dataset(path: str | os.PathLike, skip_bad: bool = False, verify_pixels: bool = False,
                 progress: bool = False) -> OpenedDataset:
    """Open and validate the dataset at `path` (folder or .zip).

    A bad entry raises BadInputError naming it, unless `skip_bad`, which drops it and records the problem.
    """
    storage = DatasetStorage(path)
    if DATASET_JSON not in storage:
        raise BadInputError(f"{storage.path}: no {DATASET_JSON} at the top of the dataset "
                            "(EG3D layout: images plus dataset.json with camera labels)")
    where = f"{storage.path.name}/{DATASET_JSON}" if not storage.is_zip else f"{storage.path.name}:{DATASET_JSON}"
    index, problems = parse_index(parse_json_bytes(storage.read(DATASET_JSON), where), where)
    bad = {p.entry for p in problems if p.section == "labels"}
    resolution = _check_images(storage, index, bad, problems, progress)
    vertex_count = _check_vertex_files(storage, index, bad, problems) if index.vertex_files is not None else None
    if verify_pixels:
        _decode_everything(storage, index, bad, problems, progress)
    if problems and not skip_bad:
        first = min(problems, key=lambda p: (p.section != "labels", p.entry))
        more = len(problems) - 1
        suffix = f" (and {more} more problem{'s' * (more > 1)}; `next3d dataset check` lists all, " \
                 "--skip-bad drops them)" if more else ""
        raise BadInputError(f"{storage.path}: {first}{suffix}")
    keep = [i for i in range(len(index)) if i not in bad]
    if not keep:
        raise BadInputError(f"{storage.path}: no usable entries ({len(index)} listed, all bad)")
    listed = set(index.names)
    unlisted = sum(1 for n in storage.names() if is_image_name(n) and n not in listed)
    return OpenedDataset(storage, index.subset(keep), resolution or 0, vertex_count, len(index),
                         sorted(problems, key=lambda p: (p.section != "labels", p.entry)), unlisted)


def _check_images(storage, index, bad, problems, progress) -> int | None:
    sizes: dict[int, int] = {}
    entries = [i for i in range(len(index)) if i not in bad]
    for i in tqdm(entries, desc="checking images", unit="img", disable=not progress, leave=False):
        name = index.names[i]
        message = None
        if not is_image_name(name):
            message = f"{name!r} is not a .png/.jpg/.jpeg image"
        elif name not in storage:
            message = f"image file not found in {storage.path.name}"
        else:
            with storage.open(name) as f:
                header, message = read_header(f)
            if message is None:
                sizes[i] = header.width
        if message is not None:
            _add(problems, bad, i, name, message)
    if not sizes:
        return None
    resolution, _count = collections.Counter(sizes.values()).most_common(1)[0]
    for i, size in sizes.items():
        if size != resolution:
            _add(problems, bad, i, index.names[i], f"image is {size}x{size} but the dataset's images are "
                 f"{resolution}x{resolution}; resize them, or pass a resolution to resize on load")
    return resolution


def _check_vertex_files(storage, index, bad, problems) -> int | None:
    counts: dict[int, int] = {}
    for i, path in enumerate(index.vertex_files):
        if i in bad:
            continue
        if path not in storage:
            _add(problems, bad, i, index.names[i], f"vertex file {path!r} not found in {storage.path.name}")
            continue
        with storage.open(path) as f:
            shape, message = read_npy_shape(f)
        if message is not None:
            _add(problems, bad, i, index.names[i], f"{path}: {message}")
        else:
            counts[i] = shape[0]
    if not counts:
        return None
    vertex_count, _n = collections.Counter(counts.values()).most_common(1)[0]
    for i, count in counts.items():
        if count != vertex_count:
            _add(problems, bad, i, index.names[i], f"{index.vertex_files[i]} has {count} vertices, the other "
                 f"entries {vertex_count}")
    return vertex_count


def _decode_everything(storage, index, bad, problems, progress) -> None:
    entries = [i for i in range(len(index)) if i not in bad]
    for i in tqdm(entries, desc="decoding", unit="img", disable=not progress, leave=False):
        try:
            decode_image(storage.read(index.names[i]))
            if index.vertex_files is not None:
                load_vertices(storage.read(index.vertex_files[i]))
        except (ValueError, BadInputError) as exc:
            _add(problems, bad, i, index.names[i], str(exc))


def _add(problems: list[EntryProblem], bad: set[int], i: int, name: str, message: str) -> None:
    problems.append(EntryProblem(i, name, message))
    bad.add(i)

