"""Contact sheets and checks for a shipped generator: seeds x yaw, expressions, and the jaw-open measure.

    python tools/default_model_sheets.py [CHECKPOINT] --out docs/

Writes `<stem>_seeds.png` (10 seeds x yaw -45..+45 deg), `<stem>_expressions.png`, `<stem>_jaw.png` (mouth
crops, 6 seeds x jaw 0, 0.1, 0.2, 0.3 rad) and prints two jaw measures: the share of the image change from opening
the jaw that falls inside the projected mouth box, and how much the picture changes inside the mouth opening.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from next3d.capture.images import signed_to_uint8  # noqa: E402
from next3d.capture.latents import z_from_seed  # noqa: E402
from next3d.head import HeadParams  # noqa: E402
from next3d.io.generator_file import load_generator  # noqa: E402
from next3d.networks.staged import StagedGenerator  # noqa: E402
from next3d.render import camera  # noqa: E402

YAWS_DEG = (-45, -22.5, 0, 22.5, 45)
JAW_STEPS = (0.0, 0.1, 0.2, 0.3)  # radians; the synthetic data open the jaw up to 0.3
EXPRESSIONS = {  # name -> (face units at 1.0, jaw opening in radians)
    "neutral": ((), 0.0),
    "smile": (("mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft", "cheekSquintRight"), 0.0),
    "jaw open": (("jawOpen",), 0.35),
    "surprise": (("browInnerUp", "browOuterUpLeft", "browOuterUpRight", "eyeWideLeft", "eyeWideRight",
                  "jawOpen"), 0.2),
    "pucker": (("mouthPucker", "mouthFunnel"), 0.0),
}


def seed_latent(G, seed: int, psi: float = 0.7) -> torch.Tensor:
    """W+ of a seed, conditioned on the frontal camera (the visualizer's z convention)."""
    z = torch.from_numpy(z_from_seed(seed, G.z_dim))[None]
    return G.mapping(z, camera.make_label(camera.orbit_pose(0.0, 0.0)), truncation_psi=psi)


def expression_params(G, name: str) -> HeadParams:
    units, jaw = EXPRESSIONS[name]
    params = HeadParams.neutral(G.head)
    for unit in units:
        params.expression[:, G.head.expr_names.index(unit)] = 1.0
    params.jaw[:, 0] = jaw
    return params


def mouth_box_share(G, ws: torch.Tensor, label: torch.Tensor) -> float:
    """Share of |image(jaw open) - image(neutral)| inside the box around the projected mouth landmarks."""
    staged = StagedGenerator(G)
    closed = staged.render(ws, label, expression_params(G, "neutral")).image
    opened = staged.render(ws, label, expression_params(G, "jaw open")).image
    change = (opened - closed).abs().sum(dim=1)[0]  # (H, W)
    world, landmarks = G.posed_world_geometry(expression_params(G, "jaw open"))
    uv, _ = camera.project(landmarks, *camera.split_label(label))
    lips = uv[0, torch.cat([G.head.lip_outer, G.head.mouth_corners])]
    res = change.shape[-1]
    lo = ((lips.amin(0) - 0.05) * res).floor().clamp(0, res - 1).long()
    hi = ((lips.amax(0) + 0.05) * res).ceil().clamp(1, res).long()
    inside = change[lo[1]:hi[1], lo[0]:hi[0]].sum()
    box_fraction = float((hi[1] - lo[1]) * (hi[0] - lo[0])) / res**2
    return float(inside / change.sum().clamp_min(1e-8)), box_fraction


def jaw_params(G, jaw: float) -> HeadParams:
    params = HeadParams.neutral(G.head)
    params.jaw[:, 0] = jaw
    return params


def mouth_opening_change(G, ws: torch.Tensor, label: torch.Tensor, jaw: float = 0.3) -> float:
    """Mean |image(jaw) - image(jaw 0)| (0..255) inside the mouth opening at `jaw` (the inner lip contour, projected
    and filled): high where lips give way to teeth and tongue, low where closed lips only move down."""
    from next3d.train.mouth_mask import MouthMask

    staged = StagedGenerator(G)
    closed, opened = (staged.render(ws, label, jaw_params(G, j)).image[0] for j in (0.0, jaw))
    opening = MouthMask(G.head, closed.shape[-1])(label, jaw_params(G, jaw).to_vector())[0, 0] > 0
    return float((opened - closed).abs().mean(dim=0)[opening].mean() * 127.5)


def jaw_crops(G, ws: torch.Tensor, label: torch.Tensor) -> np.ndarray:
    """The lower middle of the picture (the mouth) at each of JAW_STEPS, side by side, 2x enlarged."""
    staged = StagedGenerator(G)
    crops = []
    for jaw in JAW_STEPS:
        image = signed_to_uint8(staged.render(ws, label, jaw_params(G, jaw)).image[0])
        res = image.shape[0]
        crops.append(image[res // 2:, res // 4:3 * res // 4])
    return np.concatenate(crops, axis=1).repeat(2, axis=0).repeat(2, axis=1)


def save_sheet(pixels: np.ndarray, path: Path) -> None:
    """A 256-colour dithered PNG: about a third of the full-colour file, for sheets kept in the repo."""
    image = Image.fromarray(pixels).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    image.save(path, optimize=True)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default="assets/models/next3d_default.safetensors")
    parser.add_argument("--out", default="docs")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    G = load_generator(args.checkpoint)
    stem = Path(args.checkpoint).stem
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    staged = StagedGenerator(G)
    labels = [camera.make_label(camera.orbit_pose(np.radians(y), 0.0)) for y in YAWS_DEG]
    neutral = expression_params(G, "neutral")

    rows, shares, opening_changes, crops = [], [], [], []
    for seed in range(args.seeds):
        ws = seed_latent(G, seed)
        rows.append(np.concatenate([signed_to_uint8(staged.render(ws, c, neutral).image[0]) for c in labels], axis=1))
        shares.append(mouth_box_share(G, ws, labels[2]))
        opening_changes.append(mouth_opening_change(G, ws, labels[2]))
        if seed < 6:
            crops.append(jaw_crops(G, ws, labels[2]))
    save_sheet(np.concatenate(rows, axis=0), out / f"{stem}_seeds.png")
    save_sheet(np.concatenate(crops, axis=0), out / f"{stem}_jaw.png")

    expr_rows = []
    for seed in range(3):
        ws = seed_latent(G, seed)
        images = [staged.render(ws, labels[2], expression_params(G, name)).image[0] for name in EXPRESSIONS]
        expr_rows.append(np.concatenate([signed_to_uint8(image) for image in images], axis=1))
    save_sheet(np.concatenate(expr_rows, axis=0), out / f"{stem}_expressions.png")
    report = {"seeds": args.seeds, "yaws_deg": YAWS_DEG, "expressions": list(EXPRESSIONS),
              "jaw_open_change_in_mouth_box": [round(s, 3) for s, _ in shares],
              "mouth_box_area_fraction": [round(f, 3) for _, f in shares],
              "jaw_0.3_change_inside_mouth_opening": [round(c, 1) for c in opening_changes]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
