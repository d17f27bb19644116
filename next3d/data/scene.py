"""Everything random about a batch of synthetic images, drawn image by image from per-image streams."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from next3d.data.appearance import Appearance, sample_appearance
from next3d.data.background import Backdrop, sample_backdrop
from next3d.data.pose_sampling import (
    HeadDistribution,
    PoseDistribution,
    camera_labels,
    sample_camera,
    sample_head_vector,
)
from next3d.data.seeding import image_generator
from next3d.data.shading import Lighting, sample_lighting


@dataclass
class SceneBatch:
    """labels (B, 25) EG3D cameras, head (B, D) HeadParams vectors, and the look of each image."""

    indices: list[int]
    labels: torch.Tensor
    head: torch.Tensor
    appearance: Appearance
    lighting: Lighting
    backdrop: Backdrop


def sample_scenes(seed: int, indices: list[int], head, pose: PoseDistribution | None = None,
                  head_dist: HeadDistribution | None = None) -> SceneBatch:
    """The scenes of images `indices` of run `seed`; each depends only on (seed, index)."""
    pose = pose or PoseDistribution()
    head_dist = head_dist or HeadDistribution()
    yaws, pitches, vectors, looks, lights, backdrops = [], [], [], [], [], []
    for index in indices:
        gen = image_generator(seed, index)
        yaw, pitch = sample_camera(gen, pose)
        yaws.append(yaw)
        pitches.append(pitch)
        vectors.append(sample_head_vector(gen, head, head_dist))
        looks.append(sample_appearance(gen))
        lights.append(sample_lighting(gen))
        backdrops.append(sample_backdrop(gen))
    labels = camera_labels(torch.tensor(yaws), torch.tensor(pitches), pose)
    return SceneBatch(list(indices), labels, torch.stack(vectors), Appearance.cat(looks), Lighting.cat(lights),
                      Backdrop.cat(backdrops))
