"""`rasterize`: one API over the CUDA kernel and the PyTorch reference."""

from __future__ import annotations

import torch

from next3d.errors import BadInputError, Next3DError
from next3d.raster.cuda_backend import cuda_extension, rasterize_cuda
from next3d.raster.fragments import Fragments
from next3d.raster.inputs import check_raster_inputs
from next3d.raster.reference import rasterize_reference

BACKENDS = ("auto", "cuda", "reference")


def rasterize(clip: torch.Tensor, faces: torch.Tensor, resolution, *, cull="none", backend: str = "auto",
              check: bool = True) -> Fragments:
    """Visible face, barycentrics and depth per pixel of a batch of views of meshes sharing one index buffer.

    clip (B, N, 4) float32 clip-space vertices (views folded into B); faces (F, 3) int32/int64; resolution
    int or (H, W). cull: "none" | "positive" | "negative" (the NDC-area sign of faces dropped; NDC x right,
    y toward higher rows) or a (B,) int tensor of those signs (+1, -1, 0) per view: the view helpers in
    next3d.raster.views return the right one. backend: "auto" (CUDA kernel for CUDA tensors when it builds,
    else the reference), "cuda" or "reference". check=False skips the value checks (index range, NaN)
    that need a device sync; invalid faces are then undefined (the CUDA kernel skips them).
    Forward only: no gradients flow to clip. Rules (edges, ties, clipping): see next3d/raster/reference.py.
    """
    inputs = check_raster_inputs(clip, faces, resolution, cull, check)
    if choose_backend(backend, inputs.clip.device) == "cuda":
        return rasterize_cuda(inputs, cuda_extension())
    return rasterize_reference(inputs)


def choose_backend(backend: str, device: torch.device) -> str:
    """The backend that runs for `backend` and tensors on `device`: "cuda" or "reference"."""
    if backend not in BACKENDS:
        raise BadInputError(f"rasterize: backend={backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "reference" or (backend == "auto" and device.type != "cuda"):
        return "reference"
    if device.type != "cuda":
        raise BadInputError(f"rasterize: backend='cuda' needs CUDA tensors, got tensors on {device}")
    if cuda_extension() is None:
        if backend == "cuda":
            raise Next3DError("rasterize: backend='cuda' asked for, but the CUDA rasterizer could not be built "
                              "(see the warning above); use backend='auto' or 'reference'")
        return "reference"
    return "cuda"


def backend_available(name: str) -> bool:
    """Whether backend `name` ("cuda" or "reference") can run in this process (may trigger the CUDA build)."""
    if name == "reference":
        return True
    if name == "cuda":
        return torch.cuda.is_available() and cuda_extension() is not None
    raise BadInputError(f"backend_available: unknown backend {name!r}; expected 'cuda' or 'reference'")
