"""Lighting synthetic heads: smooth vertex normals (deterministic, no atomics) and Lambert + ambient +
a little Blinn-Phong specular, with a random light per image, computed in linear RGB."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

GAMMA = 2.2  # sRGB approximated by a power law


@dataclass
class Lighting:
    """Per-image light, batched: direction (B, 3) unit world vector toward the light, colour (B, 3) linear,
    intensity, ambient, specular (B,)."""

    direction: torch.Tensor
    colour: torch.Tensor
    intensity: torch.Tensor
    ambient: torch.Tensor
    specular: torch.Tensor

    def to(self, device) -> Lighting:
        return Lighting(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @staticmethod
    def cat(items: list[Lighting]) -> Lighting:
        return Lighting(**{f.name: torch.cat([getattr(x, f.name) for x in items]) for f in fields(Lighting)})


def sample_lighting(gen: torch.Generator) -> Lighting:
    """A key light in front of the face (azimuth +-75 deg, elevation -10..60 deg), warm to cool tint."""
    azimuth, elevation, warmth, intensity, ambient, specular = torch.rand(6, generator=gen).tolist()
    azimuth = (azimuth * 2 - 1) * 1.3
    elevation = -0.17 + elevation * 1.22
    direction = torch.tensor([math.sin(azimuth) * math.cos(elevation), math.sin(elevation),
                              math.cos(azimuth) * math.cos(elevation)])
    tint = torch.lerp(torch.tensor([1.0, 0.9, 0.8]), torch.tensor([0.85, 0.92, 1.0]), warmth)
    return Lighting(direction=direction[None], colour=tint[None], intensity=torch.tensor([0.6 + 0.6 * intensity]),
                    ambient=torch.tensor([0.25 + 0.25 * ambient]), specular=torch.tensor([0.02 + 0.08 * specular]))


def incident_faces(faces: torch.Tensor, num_vertices: int) -> torch.Tensor:
    """(V, K) long: the faces around each vertex, padded with F (an extra all-zero normal row)."""
    f = faces.shape[0]
    vertex = faces.reshape(-1)
    face = torch.arange(f, device=faces.device).repeat_interleave(3)
    order = torch.argsort(vertex, stable=True)
    vertex, face = vertex[order], face[order]
    counts = torch.bincount(vertex, minlength=num_vertices)
    slot = torch.arange(vertex.shape[0], device=faces.device) - (torch.cumsum(counts, 0) - counts)[vertex]
    table = torch.full((num_vertices, int(counts.max()) if f else 1), f, dtype=torch.long, device=faces.device)
    table[vertex, slot] = face
    return table


def face_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted face normals (B, F, 3) (cross product, counter-clockwise = outward)."""
    a, b, c = (vertices[:, faces[:, k]] for k in range(3))
    return torch.linalg.cross(b - a, c - a, dim=-1)


def vertex_normals(face_normal: torch.Tensor, incident: torch.Tensor) -> torch.Tensor:
    """Unit vertex normals (B, V, 3): the sum of the incident faces' area-weighted normals."""
    padded = torch.cat([face_normal, torch.zeros_like(face_normal[:, :1])], dim=1)
    return torch.nn.functional.normalize(padded[:, incident].sum(2), dim=-1)


def shade(albedo_srgb: torch.Tensor, normal: torch.Tensor, to_camera: torch.Tensor, light: Lighting,
          owner: torch.Tensor) -> torch.Tensor:
    """Lit sRGB colour (N, 3) of N points: albedo (sRGB), unit normals and unit directions to the camera
    (N, 3); owner (N,) long = the image (row of `light`) each point belongs to."""
    direction = light.direction[owner]
    diffuse = (normal * direction).sum(-1, keepdim=True).clamp(min=0.0)
    half = torch.nn.functional.normalize(direction + to_camera, dim=-1)
    spec = (normal * half).sum(-1, keepdim=True).clamp(min=0.0) ** 32
    radiance = light.ambient[owner, None] + light.intensity[owner, None] * diffuse * light.colour[owner]
    linear = albedo_srgb.clamp(min=0) ** GAMMA * radiance + light.specular[owner, None] * spec
    return linear.clamp(0.0, 1.0) ** (1.0 / GAMMA)
