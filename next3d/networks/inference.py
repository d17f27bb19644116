"""Inference variants of the generator: the fp32 reference and faster ones, behind the same stage API.

`InferenceGenerator(G, mode)` runs G's latent/head/camera stages with a chosen precision (bf16/fp16
autocast around the networks; geometry, rasterization and ray math stay fp32). Every variant is tested
against the fp32 reference (tests/test_generator_inference.py, GPU tests for CUDA-only modes).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from next3d.errors import BadInputError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class InferenceMode:
    """How to run the generator: `precision` of the network arithmetic ('fp32' is the reference)."""

    precision: str = "fp32"

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise BadInputError(f"precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")

    @classmethod
    def named(cls, name: str) -> "InferenceMode":
        """'fp32' (reference) or 'fast' (bf16 networks; fp16 on CUDA devices without bf16)."""
        if name == "fast":
            return cls(precision="bf16")
        return cls(precision=name)


class InferenceGenerator:
    """G's stage API (mapping, latent_stage, head_stage, camera_stage, synthesis) run in an inference mode."""

    def __init__(self, G, mode: InferenceMode | str = "fp32"):
        self.G = G
        self.mode = InferenceMode.named(mode) if isinstance(mode, str) else mode

    def __getattr__(self, name):  # sizes and config come from the wrapped generator
        return getattr(self.G, name)

    def _precision(self, device: torch.device):
        dtype = PRECISIONS[self.mode.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=dtype)

    def mapping(self, *args, **kwargs):
        return self.G.mapping(*args, **kwargs)  # tiny MLP: always fp32 (w feeds every later stage)

    def latent_stage(self, ws, options=None):
        with self._precision(ws.device):
            latent = self.G.latent_stage(ws, options)
        for name in ("texture", "static_planes"):
            setattr(latent, name, getattr(latent, name).float())
        return latent

    def head_stage(self, latent, ws, head_state, options=None):
        with self._precision(ws.device):
            planes = self.G.head_stage(latent, ws, head_state, options)
        planes.planes = planes.planes.float()
        return planes

    def camera_stage(self, planes, ws, c, options=None):
        with self._precision(ws.device):
            out = self.G.camera_stage(planes, ws, c, options)
        for name in ("image", "image_raw", "depth", "alpha"):
            setattr(out, name, getattr(out, name).float())
        return out

    def synthesis(self, ws, c, head_state, options=None):
        latent = self.latent_stage(ws, options)
        return self.camera_stage(self.head_stage(latent, ws, head_state, options), ws, c, options)
