"""Inference variants of the generator: the fp32 reference and faster ones, behind the same stage API.

`InferenceGenerator(G, mode)` runs G's latent/head/camera stages with a chosen precision (bf16/fp16
autocast around the networks; geometry, rasterization and ray math stay fp32); `make_renderer` adds stage
caching, replayed as CUDA graphs when the mode asks for them (next3d/networks/cuda_graphs.py). Every
variant is tested against the fp32 reference (tests/test_generator_inference.py, tests/test_generator_fast.py).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from types import MappingProxyType

import torch

from next3d.errors import BadInputError
from next3d.networks.ops.upfirdn2d import use_kernel

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class InferenceMode:
    """How to run the generator: network precision ('fp32' is the reference), CUDA-graph replay, and
    TF32 tensor-core matmuls/convolutions (CUDA only; ~1e-3 relative rounding instead of fp32's 1e-7)."""

    precision: str = "fp32"
    cuda_graphs: bool = False
    tf32: bool = False
    compile: bool = False  # torch.compile (Inductor) each stage: fused elementwise work, channels-last convs
    kernels: bool = False  # our Triton kernels where they apply (FIR resampling: next3d/networks/ops/fir_kernel.py)

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise BadInputError(f"precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")

    @classmethod
    def named(cls, name: str) -> "InferenceMode":
        """A mode by name: 'fp32' (reference), 'fast' (fastest without compiling), 'fastest' (fastest measured,
        after minutes of compiling; docs/performance.md), or dash-joined options ending in a precision: e.g.
        'bf16', 'graphs-fp32', 'kernels-graphs-fp16', 'compile-graphs-fp16' (graphs, compile and kernels imply TF32)."""
        if name in NAMED_MODES:
            return NAMED_MODES[name]
        *flags, precision = name.split("-")
        unknown = set(flags) - {"graphs", "compile", "kernels"}
        if unknown:
            raise BadInputError(f"inference mode {name!r}: unknown option(s) {', '.join(sorted(unknown))}")
        fast = bool(flags)
        return cls(precision=precision, cuda_graphs="graphs" in flags, tf32=fast, compile="compile" in flags,
                   kernels="kernels" in flags)

    def label(self) -> str:
        flags = [f for f, on in (("kernels", self.kernels), ("compile", self.compile), ("graphs", self.cuda_graphs))
                 if on]
        return "-".join(flags + [self.precision]) + ("+tf32" if self.tf32 and not flags else "")


FAST_MODE = InferenceMode(precision="fp32", cuda_graphs=True, tf32=True, kernels=True)
FASTEST_MODE = InferenceMode(precision="fp16", cuda_graphs=True, tf32=True, kernels=True, compile=True)
NAMED_MODES = MappingProxyType({"fast": FAST_MODE, "fastest": FASTEST_MODE})


def apply_backend_flags(mode: InferenceMode) -> None:
    """Process-wide CUDA settings a mode relies on: cuDNN autotuning, and TF32 when the mode allows it."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = mode.tf32
    torch.backends.cudnn.allow_tf32 = mode.tf32


def make_renderer(G, mode: InferenceMode | str = "fp32", cache: bool = True):
    """A stage-caching renderer (`.render(ws, c, head, options)`, `.stats`, `.clear()`) for `mode`.

    CUDA-graph modes need G on a CUDA device and a sync-free head stage; elsewhere (the CPU, or imported
    official weights, whose flood fill and integer mouth crops read values back to the host) they fall back to
    eager stages with caching.
    """
    from next3d.networks.cuda_graphs import GraphedGenerator
    from next3d.networks.staged import StagedGenerator

    mode = InferenceMode.named(mode) if isinstance(mode, str) else mode
    on_cuda = next(G.parameters()).device.type == "cuda"
    if on_cuda:
        apply_backend_flags(mode)
    if mode.cuda_graphs and on_cuda and not G.config.official_plane_layout:
        return GraphedGenerator(G, mode)
    return StagedGenerator(InferenceGenerator(G, mode), enabled=cache)


class InferenceGenerator:
    """G's stage API (mapping, latent_stage, head_stage, camera_stage, synthesis) run in an inference mode."""

    def __init__(self, G, mode: InferenceMode | str = "fp32"):
        self.G = G
        self.mode = InferenceMode.named(mode) if isinstance(mode, str) else mode
        stages = (G.latent_stage, G.head_stage, G.camera_stage)
        if self.mode.compile:
            stages = tuple(torch.compile(fn, dynamic=False) for fn in stages)
        self._latent_stage, self._head_stage, self._camera_stage = stages

    def __getattr__(self, name):  # sizes and config come from the wrapped generator
        return getattr(self.G, name)

    def _precision(self, device: torch.device):
        """The mode's arithmetic around a stage: autocast to its precision, and our kernels if it uses them."""
        stack = contextlib.ExitStack()
        stack.enter_context(use_kernel(self.mode.kernels))
        dtype = PRECISIONS[self.mode.precision]
        if dtype is not None:
            stack.enter_context(torch.autocast(device_type=device.type, dtype=dtype))
        return stack

    def mapping(self, *args, **kwargs):
        return self.G.mapping(*args, **kwargs)  # tiny MLP: always fp32 (w feeds every later stage)

    def latent_stage(self, ws, options=None):
        with self._precision(ws.device):
            latent = self._latent_stage(ws, options)
        latent.static_planes = latent.static_planes.float()
        if latent.texture is not None:  # the EG3D variant has no neural texture
            latent.texture = latent.texture.float()
        return latent

    def head_stage(self, latent, ws, head_state, options=None):
        with self._precision(ws.device):
            planes = self._head_stage(latent, ws, head_state, options)
        planes.planes = planes.planes.float()
        return planes

    def camera_stage(self, planes, ws, c, options=None):
        with self._precision(ws.device):
            out = self._camera_stage(planes, ws, c, options)
        for name in ("image", "image_raw", "depth", "alpha"):
            setattr(out, name, getattr(out, name).float())
        return out

    def synthesis(self, ws, c, head_state, options=None):
        latent = self.latent_stage(ws, options)
        return self.camera_stage(self.head_stage(latent, ws, head_state, options), ws, c, options)
