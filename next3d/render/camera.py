"""Cameras in the EG3D convention, shared by Next3D and its datasets.

World frame: right-handed, y up, the face looks toward +z, +x is the subject's left (image right in a
frontal view). A camera is a 4x4 cam-to-world matrix with OpenCV axes (x right, y down, z forward) plus
3x3 intrinsics normalized by the image size (cx = cy = 0.5). A *label* is the 16 matrix entries
(row-major) followed by the 9 intrinsics entries: 25 floats.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from next3d.errors import BadInputError

LABEL_DIM = 25
DEFAULT_RADIUS = 2.7
DEFAULT_PIVOT = (0.0, 0.0, 0.2)
DEFAULT_FOV_DEG = 18.837
DEFAULT_FOCAL = 4.2647  # normalized focal length of FFHQ labels (EG3D); fov_to_focal(18.837) ~ 4.263


def fov_to_focal(fov_deg: float) -> float:
    """Normalized focal length for EG3D's field-of-view convention (its fov spans sqrt(2) image widths)."""
    return 1.0 / (math.tan(math.radians(fov_deg) / 2.0) * math.sqrt(2.0))


def focal_to_fov(focal: float) -> float:
    """Inverse of `fov_to_focal`, in degrees."""
    return math.degrees(2.0 * math.atan(1.0 / (focal * math.sqrt(2.0))))


def intrinsics(focal: float = DEFAULT_FOCAL, cx: float = 0.5, cy: float = 0.5, batch: int | None = None,
               device=None) -> torch.Tensor:
    """Normalized 3x3 intrinsics, (3, 3) or (batch, 3, 3)."""
    k = torch.tensor([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]], dtype=torch.float32, device=device)
    return k if batch is None else k.expand(batch, 3, 3).clone()


def look_at(origin: torch.Tensor, target: torch.Tensor, roll: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Cam-to-world (B, 4, 4) for cameras at `origin` (B, 3) looking at `target` (B, 3), OpenCV axes.

    World up is +y, so image-down is world -y for an upright camera; `roll` (radians, B or scalar) turns
    the camera clockwise about its viewing axis as seen in the image.
    """
    origin = torch.as_tensor(origin, dtype=torch.float32)
    target = torch.as_tensor(target, dtype=torch.float32, device=origin.device).expand_as(origin)
    forward = torch.nn.functional.normalize(target - origin, dim=-1)
    world_up = torch.tensor([0.0, 1.0, 0.0], device=origin.device).expand_as(forward)
    right = torch.nn.functional.normalize(torch.linalg.cross(forward, world_up, dim=-1), dim=-1)
    down = torch.linalg.cross(forward, right, dim=-1)
    roll = torch.as_tensor(roll, dtype=torch.float32, device=origin.device).expand(origin.shape[0])[:, None]
    right, down = right * torch.cos(roll) - down * torch.sin(roll), right * torch.sin(roll) + down * torch.cos(roll)
    pose = torch.eye(4, device=origin.device).repeat(origin.shape[0], 1, 1)
    pose[:, :3, 0], pose[:, :3, 1], pose[:, :3, 2], pose[:, :3, 3] = right, down, forward, origin
    return pose


def orbit_pose(yaw, pitch, radius=DEFAULT_RADIUS, pivot=DEFAULT_PIVOT, roll=0.0) -> torch.Tensor:
    """Cam-to-world (B, 4, 4) on a sphere of `radius` about the world origin, looking at `pivot`.

    yaw > 0 moves the camera toward the subject's left (+x); pitch > 0 moves it up (looking down).
    Angles in radians, scalars or (B,) tensors. yaw = pitch = 0 is the frontal FFHQ camera.
    """
    yaw, pitch, radius, roll = (torch.as_tensor(v, dtype=torch.float32) for v in (yaw, pitch, radius, roll))
    yaw, pitch, radius, roll = torch.broadcast_tensors(yaw.reshape(-1), pitch.reshape(-1), radius.reshape(-1),
                                                       roll.reshape(-1))
    origin = torch.stack([radius * torch.cos(pitch) * torch.sin(yaw), radius * torch.sin(pitch),
                          radius * torch.cos(pitch) * torch.cos(yaw)], dim=-1)
    target = torch.tensor(pivot, dtype=torch.float32).expand_as(origin)
    return look_at(origin, target, roll)


def orbit_label(yaw: float, pitch: float, radius: float = DEFAULT_RADIUS, roll: float = 0.0,
                fov_deg: float = DEFAULT_FOV_DEG, pivot=DEFAULT_PIVOT) -> np.ndarray:
    """The (25,) float32 label of one orbit camera (as `make_label(orbit_pose(...), intrinsics(...))`).

    Plain float64 arithmetic: ~20x cheaper than the batched torch path at batch 1, which matters to the
    render worker that builds a label every frame (tests/test_render_camera.py checks they agree).
    """
    cos_p, sin_p, cos_y, sin_y = math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
    origin = (radius * cos_p * sin_y, radius * sin_p, radius * cos_p * cos_y)
    forward = _unit(tuple(float(t) - o for t, o in zip(pivot, origin)))
    right = _unit((-forward[2], 0.0, forward[0]))  # forward x world up (+y)
    down = (forward[1] * right[2] - forward[2] * right[1], forward[2] * right[0] - forward[0] * right[2],
            forward[0] * right[1] - forward[1] * right[0])  # forward x right
    cos_r, sin_r = math.cos(roll), math.sin(roll)
    right, down = (tuple(r * cos_r - d * sin_r for r, d in zip(right, down)),
                   tuple(r * sin_r + d * cos_r for r, d in zip(right, down)))
    focal = fov_to_focal(fov_deg)
    label = [right[0], down[0], forward[0], origin[0],
             right[1], down[1], forward[1], origin[1],
             right[2], down[2], forward[2], origin[2],
             0.0, 0.0, 0.0, 1.0,
             focal, 0.0, 0.5, 0.0, focal, 0.5, 0.0, 0.0, 1.0]
    return np.asarray(label, dtype=np.float32)


def _unit(v: tuple[float, float, float]) -> tuple[float, float, float]:
    norm = max(math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]), 1e-12)  # as torch's normalize
    return (v[0] / norm, v[1] / norm, v[2] / norm)


def eg3d_lookat_pose(horizontal, vertical, radius=DEFAULT_RADIUS, pivot=DEFAULT_PIVOT) -> torch.Tensor:
    """EG3D's `LookAtPoseSampler.sample` without noise: angles measured from the +y pole (pi/2 = frontal).

    Kept so that labels written by EG3D scripts (e.g. `--pose-cond` defaults) can be reproduced exactly.
    """
    h, v = (torch.as_tensor(a, dtype=torch.float32).reshape(-1) for a in (horizontal, vertical))
    v = v.clamp(1e-5, math.pi - 1e-5)
    phi = torch.arccos(1 - 2 * (v / math.pi))
    origin = torch.stack([radius * torch.sin(phi) * torch.cos(math.pi - h), radius * torch.cos(phi),
                          radius * torch.sin(phi) * torch.sin(math.pi - h)], dim=-1)
    return look_at(origin, torch.tensor(pivot, dtype=torch.float32).expand_as(origin))


def make_label(cam2world: torch.Tensor, k: torch.Tensor | None = None) -> torch.Tensor:
    """Pack (B, 4, 4) cam-to-world and (B, 3, 3) normalized intrinsics into (B, 25) labels."""
    if k is None:
        k = intrinsics(batch=cam2world.shape[0], device=cam2world.device)
    k = k.expand(cam2world.shape[0], 3, 3)
    return torch.cat([cam2world.reshape(-1, 16), k.reshape(-1, 9)], dim=1)


def split_label(label: torch.Tensor, where: str = "camera label") -> tuple[torch.Tensor, torch.Tensor]:
    """Unpack (B, 25) labels into cam-to-world (B, 4, 4) and intrinsics (B, 3, 3), validating them."""
    label = validate_label(label, where)
    return label[:, :16].reshape(-1, 4, 4), label[:, 16:].reshape(-1, 3, 3)


def validate_label(label, where: str = "camera label") -> torch.Tensor:
    """Check a label batch: 25 finite floats each, a rotation part that is orthonormal, focal > 0."""
    label = torch.as_tensor(label, dtype=torch.float32)  # keeps the caller's device
    if label.ndim == 1:
        label = label[None]
    if label.ndim != 2 or label.shape[1] != LABEL_DIM:
        raise BadInputError(f"{where}: expected 25 numbers per camera (16 pose + 9 intrinsics), "
                            f"got shape {tuple(label.shape)}")
    if not torch.isfinite(label).all():
        raise BadInputError(f"{where}: contains NaN or Inf")
    rot = label[:, :16].reshape(-1, 4, 4)[:, :3, :3]
    err = (rot.transpose(1, 2) @ rot - torch.eye(3, device=label.device)).abs().amax()
    if err > 1e-3:
        raise BadInputError(f"{where}: the 3x3 rotation of the cam-to-world matrix is not orthonormal "
                            f"(error {err:.3g}); labels are EG3D cam-to-world, OpenCV axes")
    if (label[:, 16] <= 0).any() or (label[:, 20] <= 0).any():
        raise BadInputError(f"{where}: focal lengths must be positive (normalized by image size)")
    return label


def project(points: torch.Tensor, cam2world: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Project world points (B, N, 3) to normalized image coords (B, N, 2) in [0, 1] and camera depth (B, N).

    (0, 0) is the top-left image corner, (1, 1) the bottom-right; multiply by the resolution for pixels.
    """
    world2cam = torch.linalg.inv(cam2world)
    cam = points @ world2cam[:, :3, :3].transpose(1, 2) + world2cam[:, None, :3, 3]
    z = cam[..., 2]
    uv = cam[..., :2] / z[..., None]
    uv = uv @ k[:, :2, :2].transpose(1, 2) + k[:, None, :2, 2]
    return uv, z


def pose_angles(cam2world: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Yaw, pitch (radians, as in `orbit_pose`) and radius of camera positions (B,) about the world origin."""
    origin = cam2world[:, :3, 3]
    radius = origin.norm(dim=-1)
    pitch = torch.asin((origin[:, 1] / radius).clamp(-1, 1))
    yaw = torch.atan2(origin[:, 0], origin[:, 2])
    return yaw, pitch, radius


def mirror_label(label: torch.Tensor) -> torch.Tensor:
    """The label of the x-mirrored scene (for x-flip augmentation): reflect the world in the x = 0 plane.

    The image is flipped left-right, so the camera x axis is flipped too (keeps a proper rotation).
    """
    cam2world, k = split_label(label)
    flip = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], device=cam2world.device))
    mirrored = flip @ cam2world @ flip  # reflect the world in x = 0, and the camera's x axis with it
    k = k.clone()
    k[:, 0, 2] = 1.0 - k[:, 0, 2]
    return make_label(mirrored, k)
