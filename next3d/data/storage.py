"""Read-only access to a dataset's files, in a folder or a .zip, by relative POSIX name.

Zip members are read lazily one at a time and never extracted, so member names cannot write anywhere;
the zip handle is reopened per process, which keeps the storage usable from DataLoader workers.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from next3d.data.names import name_problem
from next3d.errors import BadInputError


class DatasetStorage:
    """The files of a folder or zip dataset: `names()` lists them, `read(name)` returns their bytes."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise BadInputError(f"{self.path}: no such dataset (expected a folder or a .zip with dataset.json)")
        self.is_zip = self.path.is_file()
        if self.is_zip and not zipfile.is_zipfile(self.path):
            raise BadInputError(f"{self.path}: is a file but not a zip archive; a dataset is a folder or a .zip")
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None
        self._names = self._list_names()

    def names(self) -> set[str]:
        """Every file's relative POSIX name (folders excluded; unsafe zip member names left out)."""
        return self._names

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def read(self, name: str) -> bytes:
        """The bytes of file `name`; BadInputError if it is missing or cannot be read."""
        if name not in self._names:
            raise BadInputError(f"{self.path}: has no file {name!r}")
        try:
            if self.is_zip:
                return self._zipfile().read(name)
            return (self.path / name).read_bytes()
        except (OSError, zipfile.BadZipFile, EOFError, RuntimeError) as exc:
            raise BadInputError(f"{self.path}: cannot read {name!r} ({exc})") from None

    def open(self, name: str):
        """A binary file object for `name` (for reading only a header)."""
        if name not in self._names:
            raise BadInputError(f"{self.path}: has no file {name!r}")
        return self._zipfile().open(name) if self.is_zip else open(self.path / name, "rb")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        self._zip, self._zip_pid = None, None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_zip": None, "_zip_pid": None}

    def _zipfile(self) -> zipfile.ZipFile:
        if self._zip is None or self._zip_pid != os.getpid():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (OSError, zipfile.BadZipFile) as exc:
                raise BadInputError(f"{self.path}: cannot open the zip archive ({exc})") from None
            self._zip_pid = os.getpid()
        return self._zip

    def _list_names(self) -> set[str]:
        if self.is_zip:
            infos = self._zipfile().infolist()
            return {i.filename for i in infos if not i.is_dir() and name_problem(i.filename) is None}
        names = set()
        for root, _dirs, files in os.walk(self.path):
            rel = Path(root).relative_to(self.path).as_posix()
            for f in files:
                names.add(f if rel == "." else f"{rel}/{f}")
        return names
