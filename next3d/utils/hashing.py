"""File identity: the SHA-256 of a file's bytes (imported pickles, source checkpoints of latents and inversions)."""

from __future__ import annotations

import hashlib
import os


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of the file at `path`, read in chunks (large checkpoints never sit in memory whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
