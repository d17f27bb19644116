"""Per-image random streams: image i of a run with seed s depends only on (s, i), never on batching."""

from __future__ import annotations

import hashlib

import torch


def image_seed(seed: int, index: int, stream: str = "synth") -> int:
    """A 63-bit seed derived from (seed, index, stream) with sha256 (stable across runs and machines)."""
    digest = hashlib.sha256(f"{stream}:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def image_generator(seed: int, index: int, stream: str = "synth") -> torch.Generator:
    """A CPU torch.Generator seeded for image `index` of run `seed`."""
    return torch.Generator().manual_seed(image_seed(seed, index, stream))
