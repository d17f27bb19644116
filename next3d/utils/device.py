"""Choosing the torch device: CUDA when present, else the CPU with one warning line."""

from __future__ import annotations

import sys

import torch

from next3d.errors import BadInputError


def resolve_device(name: str = "auto", *, warn=None) -> torch.device:
    """Map 'auto' | 'cpu' | 'cuda' | 'cuda:N' to a usable device.

    Asking for CUDA on a machine without it falls back to the CPU and says so once (through `warn`,
    default: a line on stderr) instead of failing deep inside a job.
    """
    warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            warn(f"--device {name} asked for, but no CUDA GPU is available; running on the CPU (slow)")
            return torch.device("cpu")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BadInputError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return dev
    raise BadInputError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N")
