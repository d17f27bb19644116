"""Parametric head models: one schema (HeadData), 5-joint skinning (HeadModel), parameters (HeadParams).

`load_default_head()` gives the built-in head (assets/head/, built by tools/build_default_head.py from
CC0 MakeHuman data); `load_head(path)` reads a Next3D head file or a FLAME `generic_model.pkl`.
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path

from next3d.head.model import HeadModel, HeadOutput
from next3d.head.params import HeadParams
from next3d.head.schema import HeadData

__all__ = ["HeadData", "HeadModel", "HeadOutput", "HeadParams", "default_head_path", "load_default_head",
           "load_head"]


def default_head_path() -> Path:
    """Where the built-in head asset lives in the repository."""
    return Path(__file__).resolve().parents[2] / "assets" / "head" / "next3d_head.safetensors"


def load_default_head() -> HeadModel:
    """The built-in head, a new module on every call (the file is read once): moving one generator's head to a
    device never moves another's."""
    return HeadModel(copy.deepcopy(_default_head_data()), where=f"head file '{default_head_path()}'")


@functools.lru_cache(maxsize=1)
def _default_head_data() -> HeadData:
    from next3d.head.storage import load_head_file

    return load_head_file(default_head_path())


def load_head(path: str | os.PathLike) -> HeadModel:
    """Load a head model file: a Next3D `.safetensors` head, or a FLAME `.pkl` (with head_template.obj beside it)."""
    path = Path(path)
    if path.suffix.lower() == ".pkl":
        from next3d.head.flame import load_flame

        return load_flame(path)
    return HeadModel.load(path)
