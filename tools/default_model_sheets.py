"""Contact sheets and checks for a shipped generator: seeds x yaw, expressions, and the jaw-open measure.

    python tools/default_model_sheets.py [CHECKPOINT] --out docs/

Writes `<stem>_seeds.png` (10 seeds x yaw -45..+45 deg), `<stem>_expressions.png` and prints the mouth-box
measure: the share of the image change from opening the jaw that falls inside the projected mouth box.
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
    staged = StagedGenerator(G)
    labels = [camera.make_label(camera.orbit_pose(np.radians(y), 0.0)) for y in YAWS_DEG]
    neutral = expression_params(G, "neutral")

    rows, shares = [], []
    for seed in range(args.seeds):
        ws = seed_latent(G, seed)
        rows.append(np.concatenate([signed_to_uint8(staged.render(ws, c, neutral).image[0]) for c in labels], axis=1))
        shares.append(mouth_box_share(G, ws, labels[2]))
    save_sheet(np.concatenate(rows, axis=0), out / f"{stem}_seeds.png")

    expr_rows = []
    for seed in range(3):
        ws = seed_latent(G, seed)
        images = [staged.render(ws, labels[2], expression_params(G, name)).image[0] for name in EXPRESSIONS]
        expr_rows.append(np.concatenate([signed_to_uint8(image) for image in images], axis=1))
    save_sheet(np.concatenate(expr_rows, axis=0), out / f"{stem}_expressions.png")
    report = {"seeds": args.seeds, "yaws_deg": YAWS_DEG, "expressions": list(EXPRESSIONS),
              "jaw_open_change_in_mouth_box": [round(s, 3) for s, _ in shares],
              "mouth_box_area_fraction": [round(f, 3) for _, f in shares]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
