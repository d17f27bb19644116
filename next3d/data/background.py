"""Backgrounds of synthetic images: a random colour, or a linear gradient between two, with faint noise."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from next3d.data.noise import fractal_noise


@dataclass
class Backdrop:
    """Per-image background, batched: colours (B, 3) sRGB, gradient angle (B,) radians and strength (B,)
    (0 = flat colour), noise amplitude (B,), salt (B,) int64."""

    colour_a: torch.Tensor
    colour_b: torch.Tensor
    angle: torch.Tensor
    strength: torch.Tensor
    noise: torch.Tensor
    salt: torch.Tensor

    def to(self, device) -> Backdrop:
        return Backdrop(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @staticmethod
    def cat(items: list[Backdrop]) -> Backdrop:
        return Backdrop(**{f.name: torch.cat([getattr(x, f.name) for x in items]) for f in fields(Backdrop)})


def sample_backdrop(gen: torch.Generator) -> Backdrop:
    """Muted random colours; a third of the images flat, the rest gradients."""
    a, b = torch.rand(3, generator=gen), torch.rand(3, generator=gen)
    angle, kind, noise = torch.rand(3, generator=gen).tolist()
    return Backdrop(colour_a=(0.1 + 0.8 * a)[None], colour_b=(0.1 + 0.8 * b)[None],
                    angle=torch.tensor([angle * 2 * math.pi]), strength=torch.tensor([0.0 if kind < 0.33 else 1.0]),
                    noise=torch.tensor([0.06 * noise]),
                    salt=torch.randint(0, 2**31 - 1, (1,), generator=gen, dtype=torch.int64))


def render_backdrop(backdrop: Backdrop, height: int, width: int, device) -> torch.Tensor:
    """sRGB backgrounds (B, H, W, 3)."""
    b = backdrop.colour_a.shape[0]
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height - 0.5
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width - 0.5
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    along = (grid_x[None] * torch.cos(backdrop.angle).view(b, 1, 1) + grid_y[None] * torch.sin(backdrop.angle).view(b, 1, 1))
    t = ((along + 0.71) / 1.42 * backdrop.strength.view(b, 1, 1))[..., None]
    image = torch.lerp(backdrop.colour_a.view(b, 1, 1, 3), backdrop.colour_b.view(b, 1, 1, 3), t)
    grain = _grain(backdrop.salt, max(2, height // 8), max(2, width // 8), device)
    grain = torch.nn.functional.interpolate(grain[:, None], size=(height, width), mode="bilinear",
                                            align_corners=False)[:, 0]
    return (image + backdrop.noise.view(b, 1, 1, 1) * grain[..., None]).clamp(0.0, 1.0)


def _grain(salt: torch.Tensor, height: int, width: int, device) -> torch.Tensor:
    """Low-frequency noise (B, h, w) in [-0.5, 0.5), computed coarse (it is smooth) and upsampled by the caller."""
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x, grid_y, torch.zeros_like(grid_x)], -1)[None] * 6.0
    return fractal_noise(points.expand(salt.shape[0], -1, -1, -1), salt.view(-1, 1, 1)) - 0.5
