"""Random cameras and head parameters for synthetic images: FFHQ-like yaw/pitch, plausible faces.

Camera: yaw ~ N(0, 0.35) and pitch ~ N(0, 0.15) radians (clamped), on EG3D's default orbit (radius 2.7,
pivot (0, 0, 0.2), focal 4.2647). Head: identity shape ~ N(0, 0.3) (clamped to +-0.8; +-1 = a full
modifier step), a few active expression units (often with their mirror partner, for symmetric smiles),
sometimes an open jaw, a common gaze for both eyes, a small neck rotation; no global rotation or
translation (the camera carries the view).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from next3d.render.camera import DEFAULT_FOCAL, DEFAULT_PIVOT, DEFAULT_RADIUS, intrinsics, make_label, orbit_pose


@dataclass(frozen=True)
class PoseDistribution:
    """Camera distribution (radians, world units)."""

    yaw_std: float = 0.35
    yaw_limit: float = 1.1
    pitch_std: float = 0.15
    pitch_limit: float = 0.45
    radius: float = DEFAULT_RADIUS
    pivot: tuple[float, float, float] = DEFAULT_PIVOT
    focal: float = DEFAULT_FOCAL


@dataclass(frozen=True)
class HeadDistribution:
    """Head-parameter distribution (coefficients, radians)."""

    shape_std: float = 0.3
    shape_limit: float = 0.8
    active_expression_weights: tuple[float, ...] = (0.25, 0.3, 0.25, 0.12, 0.08)  # P(0, 1, 2, 3, 4 units)
    expression_range: tuple[float, float] = (0.2, 1.0)
    mirror_partner_probability: float = 0.6
    jaw_open_probability: float = 0.4
    jaw_open_max: float = 0.3
    gaze_std: tuple[float, float] = (0.08, 0.15)  # pitch (about x), yaw (about y)
    neck_std: tuple[float, float, float] = (0.05, 0.07, 0.03)


def sample_camera(gen: torch.Generator, dist: PoseDistribution) -> tuple[float, float]:
    """(yaw, pitch) in radians for one image."""
    yaw, pitch = torch.randn(2, generator=gen).tolist()
    return (max(-dist.yaw_limit, min(dist.yaw_limit, yaw * dist.yaw_std)),
            max(-dist.pitch_limit, min(dist.pitch_limit, pitch * dist.pitch_std)))


def camera_labels(yaw: torch.Tensor, pitch: torch.Tensor, dist: PoseDistribution) -> torch.Tensor:
    """EG3D labels (B, 25) for yaw/pitch (B,) on the distribution's orbit."""
    pose = orbit_pose(yaw, pitch, radius=dist.radius, pivot=dist.pivot)
    return make_label(pose, intrinsics(dist.focal, batch=pose.shape[0]))


def is_blendshape_basis(expr_names: list[str]) -> bool:
    """Named units (ARKit-like, weights in [0, 1]) versus anonymous PCA components (signed, ~N(0, 1))."""
    return not all(re.fullmatch(r"[A-Za-z_]*\d+", name) for name in expr_names)


def sample_head_vector(gen: torch.Generator, head, dist: HeadDistribution) -> torch.Tensor:
    """One head-parameter vector (HeadParams.to_vector order) for `head`."""
    s, e = head.num_shape, head.num_expression
    shape = (torch.randn(s, generator=gen) * dist.shape_std).clamp(-dist.shape_limit, dist.shape_limit)
    expression = torch.zeros(e)
    weights = torch.tensor(dist.active_expression_weights)
    count = min(int(torch.multinomial(weights, 1, generator=gen)), e)
    units = torch.randperm(e, generator=gen)[:count].tolist() if e else []
    low, high = dist.expression_range
    signed = not is_blendshape_basis(head.expr_names)
    for unit in units:
        value = low + (high - low) * float(torch.rand(1, generator=gen))
        if signed and float(torch.rand(1, generator=gen)) < 0.5:
            value = -value
        expression[unit] = value
        partner = int(head.expr_mirror[unit])
        if partner != unit and float(torch.rand(1, generator=gen)) < dist.mirror_partner_probability:
            expression[partner] = value * float(head.expr_mirror_sign[unit]) * (0.8 + 0.4 * float(torch.rand(1, generator=gen)))
    jaw = torch.zeros(3)
    if float(torch.rand(1, generator=gen)) < dist.jaw_open_probability:
        jaw[0] = dist.jaw_open_max * float(torch.rand(1, generator=gen))
    gaze = torch.randn(2, generator=gen) * torch.tensor(dist.gaze_std)
    eye = torch.tensor([float(gaze[0]), float(gaze[1]), 0.0])
    neck = torch.randn(3, generator=gen) * torch.tensor(dist.neck_std)
    return torch.cat([shape, expression, jaw, neck, eye, eye, torch.zeros(3), torch.zeros(3)])
