"""Saving and loading what is on screen: latent, camera (as a 25-d EG3D label) and head state.

`.json` is human-readable; `.npz` holds the same document plus arrays (camera label, head parameters)
for scripts. Both are written atomically and validated on load; nothing in them is executed.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import torch

from next3d.capture.latents import seed_at
from next3d.capture.render_args import HEAD_FIELDS, RenderArgs
from next3d.errors import BadInputError, UnsafeFileError
from next3d.render.camera import (
    DEFAULT_PIVOT,
    focal_to_fov,
    look_at,
    orbit_label,
    split_label,
)
from next3d.utils.atomic import atomic_write_bytes, atomic_write_text

STATE_FORMAT = 1
STATE_KIND = "next3d-view-state"
STATE_SUFFIXES = (".json", ".npz")
_LATENT_KEYS = ("latent_x", "latent_y", "latent_file", "psi", "cutoff", "mix_seed", "mix_start", "mix_stop")


def orbit_from_label(label, pivot=DEFAULT_PIVOT, where: str = "camera label") -> dict[str, float]:
    """Invert `orbit_label`: yaw, pitch, radius, roll (radians) and fov (degrees) of a label looking at `pivot`.

    Raises BadInputError when the camera does not look at `pivot` (it cannot be shown as an orbit camera).
    """
    cam2world, k = split_label(torch.as_tensor(np.asarray(label, np.float32)).reshape(1, 25), where)
    origin = cam2world[:, :3, 3]
    radius = float(origin.norm())
    if radius < 1e-6:
        raise BadInputError(f"{where}: the camera sits at the world origin; expected an orbit camera")
    pitch = math.asin(max(-1.0, min(1.0, float(origin[0, 1]) / radius)))
    yaw = math.atan2(float(origin[0, 0]), float(origin[0, 2]))
    target = torch.tensor([pivot], dtype=torch.float32)
    upright = look_at(origin, target, 0.0)[0]
    forward = cam2world[0, :3, 2]
    miss = math.degrees(math.acos(max(-1.0, min(1.0, float(forward @ upright[:3, 2])))))
    if miss > 1.0:
        raise BadInputError(f"{where}: the camera looks {miss:.1f} degrees away from the pivot "
                            f"{tuple(round(p, 3) for p in pivot)}; expected an orbit camera")
    right = cam2world[0, :3, 0]
    roll = math.atan2(-float(right @ upright[:3, 1]), float(right @ upright[:3, 0]))
    return {"yaw": yaw, "pitch": pitch, "radius": radius, "roll": roll, "fov_deg": focal_to_fov(float(k[0, 0, 0]))}


def state_document(args: RenderArgs) -> dict:
    """The JSON document describing `args`' latent, camera and head state."""
    cond = None if args.cond_yaw is None else orbit_label(args.cond_yaw, args.cond_pitch, args.radius, 0.0,
                                                          args.fov_deg, args.pivot)
    return {
        "format": STATE_FORMAT,
        "kind": STATE_KIND,
        "checkpoint": args.checkpoint,
        "latent": {**{k: getattr(args, k) for k in _LATENT_KEYS}, "seed": seed_at(args.latent_x, args.latent_y)},
        "camera": {"label": [float(v) for v in orbit_label(args.yaw, args.pitch, args.radius, args.roll,
                                                            args.fov_deg, args.pivot)],
                   "pivot": list(args.pivot)},
        "conditioning": {"label": None if cond is None else [float(v) for v in cond]},
        "head": {name: list(values) for name, values in args.head_values().items()},
    }


def save_state(path: str | Path, args: RenderArgs) -> Path:
    """Write the view state to `path` (.json or .npz) atomically."""
    path = Path(path).expanduser()
    doc = state_document(args)
    if path.suffix.lower() == ".json":
        atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    elif path.suffix.lower() == ".npz":
        arrays = {"camera_label": np.asarray(doc["camera"]["label"], np.float32)}
        if doc["conditioning"]["label"] is not None:
            arrays["cond_label"] = np.asarray(doc["conditioning"]["label"], np.float32)
        arrays.update({name: np.asarray(values, np.float64) for name, values in doc["head"].items()})
        buffer = io.BytesIO()
        np.savez(buffer, state_json=np.array(json.dumps(doc)), **arrays)
        atomic_write_bytes(path, buffer.getvalue())
    else:
        raise BadInputError(f"{path}: states are saved as .json or .npz")
    return path


def load_state_document(path: str | Path) -> dict:
    """Read a state file's document (validated structure; values checked by `apply_state`)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInputError(f"{path}: no such state file")
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadInputError(f"{path}: not valid JSON ({exc})") from None
    elif path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                if "state_json" not in data.files:
                    raise BadInputError(f"{path}: an .npz without 'state_json' (not a saved view state)")
                doc = json.loads(str(data["state_json"]))
                doc.setdefault("camera", {})["label"] = data["camera_label"].tolist() \
                    if "camera_label" in data.files else doc.get("camera", {}).get("label")
                for name in HEAD_FIELDS:
                    if name in data.files:
                        doc.setdefault("head", {})[name] = data[name].tolist()
        except ValueError as exc:
            if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                raise UnsafeFileError(f"{path}: holds Python objects (pickled); refusing to load it") from None
            raise BadInputError(f"{path}: not a readable state file ({exc})") from None
        except (OSError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as exc:
            raise BadInputError(f"{path}: not a readable state file ({exc})") from None
    else:
        raise BadInputError(f"{path}: states are .json or .npz files")
    if not isinstance(doc, dict) or doc.get("kind") != STATE_KIND:
        raise BadInputError(f"{path}: not a Next3D view state (missing \"kind\": \"{STATE_KIND}\")")
    if doc.get("format", 0) > STATE_FORMAT:
        raise BadInputError(f"{path}: state format {doc.get('format')} is newer than this version understands")
    return doc


def apply_state(args: RenderArgs, doc: dict, where: str = "state", use_checkpoint: bool = False) -> RenderArgs:
    """`args` with the latent, camera and head of a state document; every bad value raises BadInputError."""
    changes: dict = {}
    latent = _section(doc, "latent", where)
    for key in _LATENT_KEYS:
        if key in latent:
            changes[key] = _typed(latent[key], f"{where}: latent.{key}", key)
    camera = _section(doc, "camera", where)
    pivot = camera.get("pivot", list(args.pivot))
    if not (isinstance(pivot, list) and len(pivot) == 3 and all(_is_number(v) for v in pivot)):
        raise BadInputError(f"{where}: camera.pivot must be 3 numbers")
    changes["pivot"] = tuple(float(v) for v in pivot)
    if camera.get("label") is None:
        raise BadInputError(f"{where}: camera.label (25 numbers) is missing")
    changes.update(orbit_from_label(_numbers(camera["label"], 25, f"{where}: camera.label"), changes["pivot"],
                                    f"{where}: camera.label"))
    cond = _section(doc, "conditioning", where, required=False).get("label")
    if cond is None:
        changes["cond_yaw"] = None
    else:
        orbit = orbit_from_label(_numbers(cond, 25, f"{where}: conditioning.label"), changes["pivot"],
                                 f"{where}: conditioning.label")
        changes["cond_yaw"], changes["cond_pitch"] = orbit["yaw"], orbit["pitch"]
    head = _section(doc, "head", where, required=False)
    unknown = sorted(set(head) - set(HEAD_FIELDS))
    if unknown:
        raise BadInputError(f"{where}: unknown head field(s) {', '.join(unknown)}")
    for name, values in head.items():
        changes[name] = tuple(_numbers(values, HEAD_FIELDS[name], f"{where}: head.{name}"))
    if use_checkpoint and isinstance(doc.get("checkpoint"), str) and doc["checkpoint"]:
        changes["checkpoint"] = doc["checkpoint"]
    new = args.with_(**changes)
    new.check()
    return new


def load_state(path: str | Path, args: RenderArgs, use_checkpoint: bool = False) -> RenderArgs:
    """`args` updated from the state file at `path`."""
    return apply_state(args, load_state_document(path), str(path), use_checkpoint)


def _section(doc: dict, name: str, where: str, required: bool = True) -> dict:
    value = doc.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadInputError(f"{where}: '{name}' section missing or not an object")
    return value


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _numbers(values, count: int | None, where: str) -> list[float]:
    if not isinstance(values, (list, tuple)) or not all(_is_number(v) for v in values):
        raise BadInputError(f"{where}: expected a list of finite numbers")
    if count is not None and len(values) != count:
        raise BadInputError(f"{where}: expected {count} numbers, got {len(values)}")
    return [float(v) for v in values]


def _typed(value, where: str, key: str):
    if key == "latent_file":
        if not isinstance(value, str):
            raise BadInputError(f"{where}: expected a path string")
        return value
    if key in ("cutoff", "mix_seed"):
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadInputError(f"{where}: expected a non-negative integer or null")
        return value
    if key in ("mix_start", "mix_stop"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadInputError(f"{where}: expected a non-negative integer")
        return value
    if not _is_number(value):
        raise BadInputError(f"{where}: expected a finite number")
    return float(value)
