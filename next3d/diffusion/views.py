"""Cameras and head states to render latents with: yaw/pitch lists or a labels file; an expression sequence.

Angles are radians as in `python -m next3d render` (yaw > 0: subject's left, pitch > 0: from above). Yaw and
pitch lists pair up element-wise; a list of one value is repeated to the other's length.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from next3d.errors import BadInputError
from next3d.render.camera import validate_label


@dataclass(frozen=True)
class ViewSpec:
    """Which cameras (`labels_file` replaces yaw/pitch) and which head states (frames of an expression file)."""

    yaw: tuple[float, ...] = (0.0,)
    pitch: tuple[float, ...] = (0.0,)
    labels_file: str | None = None
    expression_file: str | None = None
    frames: tuple[int, ...] | None = None   # None: every frame of the expression file


def camera_labels_for(spec: ViewSpec) -> torch.Tensor:
    """EG3D labels (C, 25)."""
    if spec.labels_file:
        return _labels_from_file(Path(spec.labels_file).expanduser())
    from next3d.data.pose_sampling import PoseDistribution, camera_labels

    yaw, pitch = list(spec.yaw), list(spec.pitch)
    if len(yaw) != len(pitch) and 1 not in (len(yaw), len(pitch)):
        raise BadInputError(f"--yaw has {len(yaw)} values and --pitch {len(pitch)}: give equally many, "
                            "or one of either")
    count = max(len(yaw), len(pitch))
    yaw, pitch = (v * count if len(v) == 1 else v for v in (yaw, pitch))
    return camera_labels(torch.tensor(yaw), torch.tensor(pitch), PoseDistribution())


def head_states_for(spec: ViewSpec, head) -> list:
    """HeadParams (batch 1) per chosen frame; the neutral head without an expression file."""
    from next3d.capture.sequence import load_head_sequence
    from next3d.head import HeadParams

    if not spec.expression_file:
        return [HeadParams.neutral(head, device="cpu")]
    sequence = load_head_sequence(spec.expression_file)
    frames = range(len(sequence)) if spec.frames is None else spec.frames
    states = []
    for frame in frames:
        if not 0 <= frame < len(sequence):
            raise BadInputError(f"--frames {frame}: {spec.expression_file} has {len(sequence)} frames")
        params = HeadParams.neutral(head, device="cpu")
        for name, values in sequence.arrays.items():
            target = getattr(params, name)
            if values.shape[1] > target.shape[1]:
                raise BadInputError(f"{spec.expression_file}: '{name}' has {values.shape[1]} values, head model "
                                    f"'{head.name}' has {target.shape[1]}")
            target[0, : values.shape[1]] = torch.from_numpy(values[frame])
        states.append(params)
    return states


def _labels_from_file(path: Path) -> torch.Tensor:
    """dataset.json ({"labels": [[name, [25 numbers]], ...]}) or a JSON list of 25-number lists."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path}: not a readable JSON labels file ({exc})") from None
    entries = doc.get("labels") if isinstance(doc, dict) else doc
    if not isinstance(entries, list) or not entries:
        raise BadInputError(f"{path}: expected {{\"labels\": [[name, [25 numbers]], ...]}} "
                            "or a list of 25-number lists")
    rows = []
    for i, entry in enumerate(entries):
        values = entry[1] if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list) else entry
        try:
            rows.append(validate_label(torch.tensor(values, dtype=torch.float32), f"{path} entry {i}")[0])
        except (TypeError, ValueError):
            raise BadInputError(f"{path} entry {i}: expected 25 numbers") from None
    return torch.stack(rows)
