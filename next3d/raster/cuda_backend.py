"""The CUDA rasterizer: the csrc/ kernel, JIT-built once per process through next3d.torch_utils.custom_ops."""

from __future__ import annotations

import functools
import types
from pathlib import Path

from next3d.raster.fragments import Fragments
from next3d.raster.inputs import RasterInputs
from next3d.torch_utils.custom_ops import build_extension

CSRC = Path(__file__).resolve().parent / "csrc"
SOURCES = (CSRC / "raster_bindings.cpp", CSRC / "rasterize.cu")
HEADERS = (CSRC / "rasterize.h",)
# No FMA contraction: the kernel must round exactly like the PyTorch reference (never add fast math).
CUDA_FLAGS = ("-fmad=false",)


@functools.cache
def cuda_extension() -> types.ModuleType | None:
    """The built extension module, or None (after one warning) when it cannot be built here."""
    return build_extension("next3d_raster", SOURCES, headers=HEADERS, extra_cuda_cflags=CUDA_FLAGS)


def rasterize_cuda(inputs: RasterInputs, extension: types.ModuleType) -> Fragments:
    """Rasterize CUDA tensors with the kernel; same results as `rasterize_reference`."""
    face_id, bary, depth = extension.rasterize_forward(inputs.clip, inputs.faces, inputs.cull, inputs.height,
                                                       inputs.width)
    return Fragments(face_id, bary, depth, inputs.faces, "cuda")
