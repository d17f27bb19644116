"""JIT-building CUDA extensions with ninja, cached per source and toolchain, with a fallback instead of a crash.

`build_extension` returns the module object that `torch.utils.cpp_extension.load` gives back (never a
re-import by name: on torch 2.11 + CUDA 13 the build folder is not importable by name), or None with one
warning line when the extension cannot be built here, so callers can use their PyTorch reference path.
"""

from __future__ import annotations

import hashlib
import os
import sys
import types
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from next3d.utils.atomic import atomic_write_text


class CustomOpWarning(UserWarning):
    """A CUDA extension could not be built or loaded; the PyTorch reference is used instead."""


def default_cache_dir() -> Path:
    """Build cache root: $NEXT3D_EXTENSIONS_DIR, else ($XDG_CACHE_HOME or ~/.cache)/next3d/torch_extensions."""
    if os.environ.get("NEXT3D_EXTENSIONS_DIR"):
        return Path(os.environ["NEXT3D_EXTENSIONS_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "next3d" / "torch_extensions"


def build_blocker() -> str | None:
    """Why no CUDA extension can be built or run in this process (None when nothing is in the way)."""
    from torch.utils import cpp_extension

    if torch.version.cuda is None:
        return f"this torch build ({torch.__version__}) has no CUDA support"
    if not torch.cuda.is_available():
        return "no CUDA GPU is available"
    if cpp_extension.CUDA_HOME is None:
        return "the CUDA toolkit (nvcc) was not found; set CUDA_HOME"
    if not cpp_extension.is_ninja_available():
        return "ninja is not installed (pip install ninja)"
    return None


def device_arch_flag(device: int | None = None) -> str:
    """nvcc flag that compiles for exactly the current GPU's architecture, e.g. sm_90 on an H100."""
    major, minor = torch.cuda.get_device_capability(device)
    return f"-gencode=arch=compute_{major}{minor},code=sm_{major}{minor}"


def build_key(name: str, sources: Sequence[Path], flags: Sequence[str]) -> str:
    """Hash of everything the binary depends on: sources, flags, torch/CUDA/Python versions, GPU arch."""
    digest = hashlib.sha256()
    for part in (name, torch.__version__, str(torch.version.cuda), sys.version, *flags):
        digest.update(part.encode() + b"\0")
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_extension(name: str, sources: Sequence[str | os.PathLike], *, headers: Sequence[str | os.PathLike] = (),
                    extra_cflags: Sequence[str] = (), extra_cuda_cflags: Sequence[str] = (),
                    cache_dir: str | os.PathLike | None = None, verbose: bool = False) -> types.ModuleType | None:
    """Build (or reuse) the extension `name` from `sources` for the current GPU; None + one warning on failure.

    The build folder is <cache_dir>/<name>-<build_key>, the key covering sources, `headers` they include,
    flags, toolchain and GPU architecture. The full compiler log of a failed build is kept there.
    """
    blocker = build_blocker()
    if blocker is not None:
        warnings.warn(f"next3d: CUDA extension '{name}' not built: {blocker}; using the PyTorch reference",
                      CustomOpWarning, stacklevel=2)
        return None
    paths = [Path(s).resolve() for s in sources]
    header_paths = [Path(h).resolve() for h in headers]
    missing = [str(p) for p in paths + header_paths if not p.is_file()]
    if missing:
        warnings.warn(f"next3d: CUDA extension '{name}' not built: missing source {missing[0]}; "
                      "using the PyTorch reference", CustomOpWarning, stacklevel=2)
        return None
    cuda_flags = ["-O3", device_arch_flag(), *extra_cuda_cflags]
    cxx_flags = ["-O3", *extra_cflags]
    key = build_key(name, paths + header_paths, cuda_flags + ["|"] + cxx_flags)
    build_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    build_dir = build_dir / f"{name}-{key}"
    build_dir.mkdir(parents=True, exist_ok=True)
    from torch.utils import cpp_extension

    try:
        # The module name carries the key, so two versions never collide inside one process.
        return cpp_extension.load(name=f"{name}_{key}", sources=[str(p) for p in paths],
                                  extra_cflags=cxx_flags, extra_cuda_cflags=cuda_flags,
                                  build_directory=str(build_dir), verbose=verbose)
    except Exception as exc:  # noqa: BLE001 - any build or load failure means: fall back
        log = build_dir / "build_error.log"
        atomic_write_text(log, f"{type(exc).__name__}: {exc}\n")
        first = _first_error_line(str(exc)) or type(exc).__name__
        warnings.warn(f"next3d: building CUDA extension '{name}' failed ({first[:200]}); using the PyTorch "
                      f"reference; full log: {log}", CustomOpWarning, stacklevel=2)
        return None


def _first_error_line(text: str) -> str:
    """The compiler's first error diagnostic in a build failure message (else its first line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower() and not line.startswith("Error building extension"):
            return line
    return lines[0] if lines else ""
