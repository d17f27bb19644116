"""Snapshot image grids (`grid-<kimg>.png`): rows of fixed seeds seen from several yaws, plus one row of
seed 0 with different head states (expressions) from the dataset, rendered with G_ema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from next3d.data.image_io import encode_png
from next3d.head import HeadParams
from next3d.networks.generator import RenderOptions
from next3d.render import camera
from next3d.train.data import ConditionPool
from next3d.train.phases import head_state
from next3d.utils.atomic import atomic_write_bytes

GRID_YAW = 0.5  # radians: the outer columns' yaw


def grid_path(run_dir: Path, nimg: int) -> Path:
    return run_dir / f"grid-{nimg // 1000:06d}.png"


def grid_latents(seed: int, rows: int, z_dim: int) -> torch.Tensor:
    """The fixed latents of a run's grids (the same at every snapshot)."""
    return torch.randn(rows, z_dim, generator=torch.Generator().manual_seed(seed))


def expression_states(G, pool: ConditionPool, count: int, device) -> torch.Tensor | HeadParams:
    """`count` head states for the expression row: dataset head vectors, or the neutral head opening its jaw."""
    _, heads = pool.rows(count)
    if heads is not None:
        return heads
    params = HeadParams.neutral(G.head, count, device=device)
    params.jaw[:, 0] = torch.linspace(0.0, 0.3, count, device=device)
    return params


@torch.no_grad()
def render_grid(G, pool: ConditionPool, seed: int, rows: int, views: int, chunk: int = 8) -> np.ndarray:
    """(rows + 1) x views images as one (H, W, 3) uint8 array."""
    device = next(G.parameters()).device
    z = grid_latents(seed, rows, G.z_dim).to(device)
    yaws = torch.linspace(-GRID_YAW, GRID_YAW, views) if views > 1 else torch.zeros(1)
    frontal = camera.make_label(camera.orbit_pose(torch.zeros(1), torch.zeros(1))).to(device)
    cams = camera.make_label(camera.orbit_pose(yaws, torch.zeros(views))).to(device)
    _, row_heads = pool.rows(rows)
    items = []  # (z, render camera, head vector or params index)
    for r in range(rows):
        for v in range(views):
            items.append((z[r], cams[v], None if row_heads is None else row_heads[r]))
    expressions = expression_states(G, pool, views, device)
    images = [_render(G, [it[0] for it in items[i:i + chunk]], [it[1] for it in items[i:i + chunk]],
                      None if row_heads is None else torch.stack([it[2] for it in items[i:i + chunk]]), frontal)
              for i in range(0, len(items), chunk)]
    for i in range(0, views, chunk):
        n = min(chunk, views - i)
        heads = expressions[i:i + n] if isinstance(expressions, torch.Tensor) else _slice_params(expressions, i, n)
        images.append(_render(G, [z[0]] * n, [frontal[0]] * n, heads, frontal))
    grid = torch.cat(images).reshape(rows + 1, views, *images[0].shape[1:])  # (R, V, 3, H, W)
    grid = ((grid.permute(0, 3, 1, 4, 2).flatten(0, 1).flatten(1, 2) + 1) * 127.5).round().clamp(0, 255)
    return grid.to(torch.uint8).cpu().numpy()


def _slice_params(params: HeadParams, start: int, count: int) -> HeadParams:
    return HeadParams(**{k: v[start:start + count] for k, v in vars(params).items()})


def _render(G, zs, cams, heads, frontal) -> torch.Tensor:
    z = torch.stack(zs)
    c_render = torch.stack(cams)
    state = heads if isinstance(heads, HeadParams) else head_state(G, heads, z.shape[0], z.device)
    ws = G.mapping(z, frontal.expand(z.shape[0], -1))
    return G.synthesis(ws, c_render, state, RenderOptions(noise_mode="const")).image.float()


def save_grid(path: Path, pixels: np.ndarray) -> None:
    atomic_write_bytes(path, encode_png(pixels))
