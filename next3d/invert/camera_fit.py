"""The camera as optimisable orbit angles (yaw, pitch, optionally radius and roll; focal fixed) and the coarse
search that picks a starting view when the photo comes without a camera."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from next3d.render.camera import (
    DEFAULT_FOCAL,
    DEFAULT_PIVOT,
    DEFAULT_RADIUS,
    intrinsics,
    make_label,
    orbit_pose,
)


@dataclass(frozen=True)
class OrbitCamera:
    """An orbit camera about the world origin looking at `pivot`; angles in radians (see orbit_pose)."""

    yaw: float = 0.0
    pitch: float = 0.0
    radius: float = DEFAULT_RADIUS
    roll: float = 0.0
    focal: float = DEFAULT_FOCAL  # normalized by the image size
    pivot: tuple[float, float, float] = DEFAULT_PIVOT

    def label(self, device=None) -> torch.Tensor:
        """(1, 25) EG3D label."""
        return CameraParams(self).label().detach().to(device)

    def to_dict(self) -> dict:
        return {"yaw": self.yaw, "pitch": self.pitch, "radius": self.radius, "roll": self.roll,
                "focal": self.focal, "pivot": list(self.pivot)}


class CameraParams(nn.Module):
    """Differentiable orbit camera: yaw and pitch are parameters; radius and roll only when asked."""

    def __init__(self, start: OrbitCamera, fit_radius: bool = False, fit_roll: bool = False):
        super().__init__()
        self.focal, self.pivot = start.focal, start.pivot
        self.yaw = nn.Parameter(torch.tensor([start.yaw], dtype=torch.float32))
        self.pitch = nn.Parameter(torch.tensor([start.pitch], dtype=torch.float32))
        radius, roll = torch.tensor([start.radius]), torch.tensor([start.roll])
        self.radius = nn.Parameter(radius) if fit_radius else nn.Buffer(radius)
        self.roll = nn.Parameter(roll) if fit_roll else nn.Buffer(roll)

    def label(self) -> torch.Tensor:
        """(1, 25) label built from the current angles with torch ops (gradients reach yaw/pitch/...)."""
        pose = orbit_pose(self.yaw, self.pitch.clamp(-1.4, 1.4), self.radius, self.pivot, self.roll)
        pose = pose.to(self.yaw.device)
        return make_label(pose, intrinsics(self.focal, batch=1, device=self.yaw.device))

    def current(self) -> OrbitCamera:
        with torch.no_grad():
            return OrbitCamera(float(self.yaw), float(self.pitch.clamp(-1.4, 1.4)), float(self.radius),
                               float(self.roll), self.focal, self.pivot)


def coarse_camera_search(loss_of: Callable[[OrbitCamera], float], yaws: tuple[float, ...],
                         pitches: tuple[float, ...], base: OrbitCamera) -> tuple[OrbitCamera, list[dict]]:
    """Evaluate `loss_of(camera)` on every (yaw, pitch) candidate (radius, roll, focal of `base`); the lowest wins.

    Returns the winner and one record per candidate (yaw, pitch, loss)."""
    records = []
    best, best_loss = base, math.inf
    for pitch in pitches:
        for yaw in yaws:
            candidate = OrbitCamera(yaw, pitch, base.radius, base.roll, base.focal, base.pivot)
            loss = float(loss_of(candidate))
            records.append({"yaw": yaw, "pitch": pitch, "loss": loss})
            if loss < best_loss:
                best, best_loss = candidate, loss
    return best, records
