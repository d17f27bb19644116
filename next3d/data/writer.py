"""Writing a dataset in the EG3D layout, all or nothing: files go to a temporary folder or zip beside the
output, and only a finished dataset (with its dataset.json) is renamed onto the output path."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from next3d.data.dataset_json import dump_dataset_json
from next3d.data.names import name_problem
from next3d.data.schema import DatasetIndex
from next3d.data.validate import DATASET_JSON, open_dataset
from next3d.errors import BadInputError
from next3d.utils.atomic import atomic_path

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member time stamps: the same dataset gives the same zip bytes


def check_output(out: Path, force: bool) -> None:
    """Refuse to overwrite an existing output unless `force`."""
    if out.exists() and not force:
        raise BadInputError(f"{out}: already exists; pass --force to replace it")
    if out.exists() and out.is_dir() != (out.suffix.lower() != ".zip"):
        kind = "folder" if out.is_dir() else "file"
        raise BadInputError(f"{out}: exists as a {kind}; it would be replaced by a different kind, remove it first")


def write_zip(out: Path, files: list[tuple[str, Path | bytes]]) -> None:
    """Write a zip holding (name, source path or bytes) pairs atomically, stored (images are compressed)."""
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, source in files:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, source if isinstance(source, bytes) else source.read_bytes())


def replace_dir(tmp: Path, out: Path) -> None:
    """Rename the finished folder `tmp` onto `out`, replacing an existing `out` (already allowed by --force)."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class DatasetWriter:
    """Collects files in a hidden temporary folder beside `out`; `finish` adds dataset.json and publishes.

    Use as a context manager: leaving it with an exception removes everything it wrote.
    """

    def __init__(self, out: str | os.PathLike, force: bool = False):
        self.out = Path(out)
        check_output(self.out, force)
        self.as_zip = self.out.suffix.lower() == ".zip"
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".tmp", dir=self.out.parent))
        self.written: list[str] = []

    def add(self, name: str, data: bytes) -> None:
        """Store `data` as file `name` (relative POSIX path) of the dataset."""
        problem = name_problem(name)
        if problem:
            raise BadInputError(f"cannot write {name!r}: {problem}")
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.written.append(name)

    def finish(self, index: DatasetIndex) -> Path:
        """Write dataset.json for `index` and move the dataset onto the output path."""
        (self.root / DATASET_JSON).write_bytes(dump_dataset_json(index))
        open_dataset(self.root)  # what was written must read back cleanly before it is published
        if self.as_zip:
            write_zip(self.out, [(n, self.root / n) for n in [DATASET_JSON, *sorted(self.written)]])
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            replace_dir(self.root, self.out)
        return self.out

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.root)
