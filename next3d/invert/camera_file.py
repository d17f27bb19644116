"""Reading and writing the photo's camera: a JSON file with an EG3D label (25 numbers), as written by
`invert` (camera.json), a bare list, or a dataset.json whose entry for the photo's file name is used."""

from __future__ import annotations

import json
from pathlib import Path

from next3d.errors import BadInputError
from next3d.invert.camera_fit import OrbitCamera
from next3d.render.camera import DEFAULT_PIVOT, validate_label


def read_camera(path: str | Path, image_name: str | None = None, pivot=DEFAULT_PIVOT) -> OrbitCamera:
    """The orbit camera of a label file (see module doc); NaN, wrong length or a camera that does not look at
    the pivot raise BadInputError naming the file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInputError(f"camera {path}: no such file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"camera {path}: not valid JSON ({exc})") from None
    values, where = _label_values(doc, path, image_name)
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise BadInputError(f"{where}: expected a list of 25 numbers (16 cam-to-world + 9 intrinsics)")
    from next3d.capture.state import orbit_from_label

    label = validate_label(values, where)
    orbit = orbit_from_label(values, pivot, where)
    return OrbitCamera(orbit["yaw"], orbit["pitch"], orbit["radius"], orbit["roll"], float(label[0, 16]),
                       tuple(pivot))


def _label_values(doc, path: Path, image_name: str | None):
    if isinstance(doc, list):
        return doc, f"camera {path}"
    if isinstance(doc, dict) and "label" in doc:
        return doc["label"], f"camera {path}: label"
    if isinstance(doc, dict) and isinstance(doc.get("labels"), list):
        entries = {str(e[0]): e[1] for e in doc["labels"] if isinstance(e, list) and len(e) == 2}
        name = Path(image_name).name if image_name else None
        if name in entries:
            return entries[name], f"camera {path}: entry {name}"
        if len(entries) == 1:
            (only, values), = entries.items()
            return values, f"camera {path}: entry {only}"
        raise BadInputError(f"camera {path}: a dataset.json without an entry for '{name}' ({len(entries)} entries)")
    raise BadInputError(f"camera {path}: expected {{\"label\": [25 numbers]}}, a list of 25 numbers, or a "
                        "dataset.json with {\"labels\": [[file name, [25 numbers]], ...]}")


def camera_document(camera: OrbitCamera, given: bool) -> dict:
    """camera.json: the label and its orbit parameters (angles in radians, focal normalized by image size)."""
    label = camera.label("cpu")[0].tolist()
    return {"label": [float(v) for v in label], **camera.to_dict(), "given": given,
            "convention": "EG3D label: 4x4 cam-to-world (OpenCV axes) row-major + 3x3 normalized intrinsics"}
