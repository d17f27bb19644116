"""Procedural albedo of synthetic heads: skin with tone variation and blotches, lips, brows, hair cap, eyes
(sclera, iris, pupil), teeth and tongue, drawn per pixel from the rest-pose position of the visible surface
(a solid texture in face units, see head_features.py), so it follows the mesh under any expression or pose.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from next3d.data.head_features import ROLES, HeadFeatures
from next3d.data.noise import fractal_noise

# sRGB palettes (0..1)
SKIN_TONES = ((0.96, 0.80, 0.69), (0.90, 0.70, 0.56), (0.78, 0.57, 0.42), (0.62, 0.42, 0.29),
              (0.42, 0.27, 0.18), (0.28, 0.18, 0.12))
HAIR_COLOURS = ((0.05, 0.04, 0.04), (0.18, 0.11, 0.06), (0.38, 0.24, 0.13), (0.78, 0.62, 0.38),
                (0.52, 0.20, 0.08), (0.62, 0.61, 0.60))
HAIR_WEIGHTS = (0.3, 0.3, 0.17, 0.1, 0.05, 0.08)
IRIS_COLOURS = ((0.33, 0.19, 0.09), (0.14, 0.08, 0.05), (0.30, 0.45, 0.62), (0.33, 0.43, 0.28),
                (0.48, 0.36, 0.19))
SCLERA, TEETH, TONGUE, PUPIL = (0.90, 0.88, 0.84), (0.90, 0.87, 0.78), (0.72, 0.33, 0.33), (0.03, 0.03, 0.03)
IRIS_ANGLE, PUPIL_ANGLE = 0.50, 0.19  # radians from the eye's forward axis (+z at rest)
ROLE = {name: i for i, name in enumerate(ROLES)}


@dataclass
class Appearance:
    """Per-image appearance, batched: colours (B, 3) sRGB, scalars (B,), salt (B,) int64 noise seed."""

    skin: torch.Tensor
    skin_variation: torch.Tensor
    blush: torch.Tensor
    lip: torch.Tensor
    hair: torch.Tensor
    hairline: torch.Tensor      # face units above the eye line where the hair starts on the forehead
    bald: torch.Tensor          # 1.0: no hair cap (scalp shows skin)
    brow_thickness: torch.Tensor
    brow_density: torch.Tensor
    iris: torch.Tensor
    salt: torch.Tensor

    def to(self, device) -> Appearance:
        return Appearance(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @staticmethod
    def cat(items: list[Appearance]) -> Appearance:
        return Appearance(**{f.name: torch.cat([getattr(a, f.name) for a in items]) for f in fields(Appearance)})


def sample_appearance(gen: torch.Generator) -> Appearance:
    """One image's appearance (batch of 1) from its random stream."""
    def uniform(low: float, high: float, n: int = 1) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=gen)

    tone = float(uniform(0, len(SKIN_TONES) - 1))
    low = int(tone)
    high = min(low + 1, len(SKIN_TONES) - 1)
    skin = torch.lerp(torch.tensor(SKIN_TONES[low]), torch.tensor(SKIN_TONES[high]), tone - low)
    skin = (skin * uniform(0.94, 1.06, 3)).clamp(0, 1)
    lip = (skin * torch.tensor([0.86, 0.56, 0.56]) * uniform(0.85, 1.1)).clamp(0, 1)
    hair_index = int(torch.multinomial(torch.tensor(HAIR_WEIGHTS), 1, generator=gen))
    hair = (torch.tensor(HAIR_COLOURS[hair_index]) * uniform(0.8, 1.2, 3)).clamp(0, 1)
    iris_index = int(torch.randint(len(IRIS_COLOURS), (1,), generator=gen))
    iris = (torch.tensor(IRIS_COLOURS[iris_index]) * uniform(0.8, 1.2, 3)).clamp(0, 1)
    return Appearance(
        skin=skin[None], skin_variation=uniform(0.04, 0.14), blush=uniform(0.0, 0.12), lip=lip[None],
        hair=hair[None], hairline=uniform(0.9, 1.4), bald=(uniform(0, 1) < 0.06).float(),
        brow_thickness=uniform(0.7, 1.3), brow_density=uniform(0.55, 0.95), iris=iris[None],
        salt=torch.randint(0, 2**31 - 1, (1,), generator=gen, dtype=torch.int64))


def albedo(rest: torch.Tensor, role: torch.Tensor, owner: torch.Tensor, feats: HeadFeatures,
           app: Appearance) -> torch.Tensor:
    """sRGB albedo (N, 3) of N visible surface points: rest position (N, 3) in face units, role id (N,) long
    (ROLES), owner (N,) long = the image each point belongs to (row of `app`)."""
    device = rest.device
    salt = app.salt[owner]
    x, y, z = rest.unbind(-1)
    role_is = {name: role == i for name, i in ROLE.items()}

    blotch = fractal_noise(rest * 3.0, salt) * 2.0 - 1.0
    base = app.skin[owner]
    skin = base * (1.0 + app.skin_variation[owner, None] * blotch[:, None])
    cheeks = torch.exp(-(((x.abs() - 0.55) ** 2) + (y + 0.55) ** 2) / 0.08) * (z > 0)
    skin = torch.lerp(skin, base * torch.tensor([1.0, 0.7, 0.7], device=device), (app.blush[owner] * cheeks)[:, None])
    out = torch.where(role_is["neck"][:, None], skin * 0.95, skin)
    out = torch.where(role_is["ear"][:, None], skin * torch.tensor([1.0, 0.93, 0.93], device=device), out)

    lips = _inside_polygon(rest[:, :2], feats.lip_polygon) & (z > feats.mouth[2] - 0.35) & role_is["skin"]
    out = torch.where(lips[:, None], app.lip[owner] * (1.0 + 0.3 * blotch[:, None]), out)

    streaks = fractal_noise(rest * torch.tensor([14.0, 3.0, 14.0], device=device), salt + 17)
    brow = _brow_mask(x, y, z, app.brow_thickness[owner]) * role_is["skin"]
    brow_alpha = brow * app.brow_density[owner] * (0.6 + 0.4 * streaks)
    out = torch.lerp(out, app.hair[owner] * 0.8, brow_alpha[:, None])

    hair_here = role_is["scalp"] | (role_is["skin"] & _hair_on_face(x, y, z, app.hairline[owner]))
    hair_here = hair_here & (app.bald[owner] < 0.5)
    out = torch.where(hair_here[:, None], app.hair[owner] * (0.75 + 0.5 * streaks[:, None]), out)

    eye = role_is["eye_left"] | role_is["eye_right"]
    if bool(eye.any()):
        at = eye.nonzero()[:, 0]
        out[at] = _eye_colour(rest[at], role_is["eye_left"][at], feats, app.iris[owner[at]], salt[at])
    out = torch.where(role_is["teeth"][:, None], torch.tensor(TEETH, device=device), out)
    out = torch.where(role_is["tongue"][:, None], torch.tensor(TONGUE, device=device) * (0.9 + 0.2 * blotch[:, None]),
                      out)
    return out.clamp(0.0, 1.0)


def _inside_polygon(points: torch.Tensor, polygon: torch.Tensor) -> torch.Tensor:
    """Even-odd rule: (N, 2) points inside the closed polygon (P, 2)."""
    inside = torch.zeros(points.shape[:-1], dtype=torch.bool, device=points.device)
    px, py = points[..., 0], points[..., 1]
    corners = polygon.tolist()
    for (x0, y0), (x1, y1) in zip(corners, corners[-1:] + corners[:-1]):
        if y0 == y1:
            continue
        crosses = (py < y0) != (py < y1)
        x_at = x0 + (py - y0) * ((x1 - x0) / (y1 - y0))
        inside = inside ^ (crosses & (px < x_at))
    return inside


def _hair_on_face(x, y, z, hairline) -> torch.Tensor:
    """Hair on the skin of the forehead (above a hairline receding at the temples) and at the sides."""
    forehead = y > hairline + 0.2 * x * x
    sides = (x.abs() > 1.05) & (z < -0.2) & (y > 0.1)  # above and in front of the ears
    return forehead | sides


def _brow_mask(x, y, z, thickness) -> torch.Tensor:
    """Soft arched bands above the eyes (face units), front of the head only."""
    side_x = x.abs() - 0.55
    arch = 0.42 + 0.12 * (1.0 - (side_x / 0.45) ** 2).clamp(min=0)
    d = (side_x / 0.45) ** 2 + ((y - arch) / (0.075 * thickness)) ** 2
    return (1.0 - d).clamp(0, 1).sqrt() * (z > 0.0)


def _eye_colour(rest, is_left, feats: HeadFeatures, iris_colour, salt) -> torch.Tensor:
    """Sclera, iris (with radial streaks and a dark rim) and pupil on the eyeballs, (N, 3)."""
    centre = torch.where(is_left[:, None], feats.eye_centres[0], feats.eye_centres[1])
    direction = torch.nn.functional.normalize(rest - centre, dim=-1)
    angle = torch.acos(direction[:, 2].clamp(-1.0, 1.0))
    radial = fractal_noise(torch.stack([direction[:, 0] * 30, direction[:, 1] * 30, angle * 2], -1), salt + 5)
    iris = iris_colour * (0.7 + 0.6 * radial[:, None])
    iris = iris * (1.0 - 0.5 * ((angle / IRIS_ANGLE) ** 6).clamp(max=1.0))[:, None]  # darker limbal ring
    colour = torch.where((angle < IRIS_ANGLE)[:, None], iris, torch.tensor(SCLERA, device=rest.device))
    return torch.where((angle < PUPIL_ANGLE)[:, None], torch.tensor(PUPIL, device=rest.device), colour)
