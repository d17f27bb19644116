"""File names inside a dataset: relative POSIX paths that cannot escape the dataset root (no zip-slip)."""

from __future__ import annotations

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def name_problem(name) -> str | None:
    """Why `name` is not a safe relative file name inside a dataset, or None when it is fine."""
    if not isinstance(name, str):
        return f"file name must be a string, got {type(name).__name__}"
    if not name:
        return "file name is empty"
    if "\\" in name or "\x00" in name:
        return f"file name {name!r} contains a backslash or NUL; use '/' between folders"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return f"file name {name!r} is absolute; names are relative to the dataset root"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return f"file name {name!r} has an empty, '.' or '..' part; it must stay inside the dataset"
    return None


def is_image_name(name: str) -> bool:
    """True for the image formats datasets may hold (PNG, JPEG)."""
    return name.lower().endswith(IMAGE_SUFFIXES)
