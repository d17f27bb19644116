"""Where the face parts of a head model are, in its rest pose: the frame procedural appearance is drawn in.

Positions are expressed in "face units": origin between the eye centres, one unit = the distance between
them, so the appearance rules work for any head model (built-in, FLAME, ...) whatever its native units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Region roles -> names a head model may use for them (next3d/head/schema.py `region_names`).
ROLE_NAMES = {
    "scalp": ("scalp", "hair"),
    "eye_left": ("eye_left", "eyeball_left", "left_eye"),
    "eye_right": ("eye_right", "eyeball_right", "right_eye"),
    "teeth": ("teeth",),
    "tongue": ("tongue", "mouth_interior"),
    "neck": ("neck",),
    "ear": ("ear", "ears"),
}
ROLES = ("skin", *ROLE_NAMES)  # role ids: index in this tuple; anything unnamed is skin


@dataclass(frozen=True)
class HeadFeatures:
    """Rest-pose reference of one head model (tensors on the render device).

    origin (3,) native units, unit (float) native units per face unit; eye_centres (2, 3) face units (left
    eye = subject's left, +x); lip_polygon (Lo, 2) face-unit (x, y) of the outer lip contour; mouth (3,);
    face_role (F,) long role id per face (ROLES); rest (V, 3) rest vertices in face units.
    """

    origin: torch.Tensor
    unit: float
    eye_centres: torch.Tensor
    lip_polygon: torch.Tensor
    mouth: torch.Tensor
    face_role: torch.Tensor
    rest: torch.Tensor


def head_features(head, device=None) -> HeadFeatures:
    """Measure `head` in its rest pose (neutral parameters)."""
    device = head.v_template.device if device is None else device
    with torch.no_grad():
        template = head.v_template.detach().float().cpu()
        joints = head.j_regressor.detach().float().cpu() @ template  # (5, 3)
        eyes = joints[3:5]
        origin = eyes.mean(0)
        unit = float((eyes[0] - eyes[1]).norm())
        if not unit > 0:
            unit = float((template.max(0).values - template.min(0).values).norm()) / 4.0
        corners = template[head.faces.cpu()[head.landmark_faces.cpu()]]  # (L, 3, 3)
        landmarks = (corners * head.landmark_bary.detach().float().cpu()[:, :, None]).sum(1)

        def to_units(points: torch.Tensor) -> torch.Tensor:
            return (points - origin) / unit

        lip = to_units(landmarks[head.lip_outer.cpu()])[:, :2]
        mouth = to_units(landmarks[head.mouth_corners.cpu()]).mean(0)
        vertex_role = torch.zeros(head.num_vertices, dtype=torch.long)
        for role_id, role in enumerate(ROLES[1:], start=1):
            for i, name in enumerate(head.region_names):
                if name in ROLE_NAMES[role]:
                    vertex_role[head.vertex_region.cpu() == i] = role_id
        face_role = vertex_role[head.faces.cpu()].mode(dim=1).values  # the role of most of its corners
    return HeadFeatures(origin=origin.to(device), unit=unit, eye_centres=to_units(eyes).to(device),
                        lip_polygon=lip.to(device), mouth=mouth.to(device), face_role=face_role.to(device),
                        rest=to_units(template).to(device))
