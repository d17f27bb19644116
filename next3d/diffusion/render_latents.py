"""gen-from-latents: render saved latents with chosen cameras and head states to PNGs (and a grid)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from next3d.capture.jobs import save_png
from next3d.diffusion.generator_source import GeneratorSource, same_generator
from next3d.diffusion.image_inputs import to_uint8
from next3d.diffusion.latent_codec import LATENT_KINDS, LatentCodec, expand_batch
from next3d.diffusion.latent_files import load_latents
from next3d.diffusion.latent_store import INDEX_NAME, read_layout
from next3d.diffusion.views import ViewSpec, camera_labels_for, head_states_for
from next3d.errors import BadInputError
from next3d.utils.device import resolve_device


@dataclass(frozen=True)
class RenderLatentsConfig:
    """Latents (store folder, .npy, .npz), which rows, which kind (None: from the file or the shape), views."""

    latents: str
    out: str
    kind: str | None = None
    indices: tuple[int, ...] | None = None
    views: ViewSpec = field(default_factory=ViewSpec)
    grid: bool = False
    batch: int = 4
    device: str = "auto"
    progress: bool = True


def infer_kind(latents: np.ndarray, G, declared: str | None, where: str) -> str:
    """The declared kind, or the one whose shape the latents have for generator G."""
    if declared:
        if declared not in LATENT_KINDS:
            raise BadInputError(f"{where}: latent kind '{declared}' cannot be rendered "
                                f"(renderable: {', '.join(LATENT_KINDS)})")
        return declared
    for kind in LATENT_KINDS:
        if tuple(latents.shape[1:]) == LatentCodec(G, kind).shape:
            return kind
    raise BadInputError(f"{where}: latents of shape {tuple(latents.shape[1:])} fit neither this generator's W+ "
                        f"({G.num_ws}, {G.w_dim}) nor its style space {LatentCodec(G, 'style').shape}")


def render_latents(cfg: RenderLatentsConfig, source: GeneratorSource,
                   warn: Callable[[str], None] | None = None) -> list[Path]:
    """Write <name>-c<camera>-e<expression>.png per latent, camera and head state; returns the paths."""
    warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
    if cfg.batch < 1:
        raise BadInputError(f"--batch {cfg.batch}: must be >= 1")
    device = resolve_device(cfg.device)
    loaded = load_latents(cfg.latents, cfg.kind, list(cfg.indices) if cfg.indices is not None else None)
    cameras = camera_labels_for(cfg.views).to(device)
    G = source.load(device)
    heads = [h.to(device) for h in head_states_for(cfg.views, G.head)]
    codec = LatentCodec(G, infer_kind(loaded.latents, G, cfg.kind or loaded.kind, cfg.latents))
    codec.check(torch.from_numpy(loaded.latents), cfg.latents)
    store_index = Path(cfg.latents) / INDEX_NAME
    if store_index.exists():
        made_with, given = read_layout(cfg.latents).source.get("generator", {}), source.describe()
        if not same_generator(made_with, given):
            warn(f"{cfg.latents} was made with generator {made_with}, rendering with {given}")
    out = Path(cfg.out)
    paths, tiles = [], []
    bar = tqdm(total=len(loaded.latents) * len(cameras) * len(heads), desc="gen-from-latents", unit="image",
               disable=not cfg.progress)
    for start in range(0, len(loaded.latents), cfg.batch):
        latents = torch.from_numpy(loaded.latents[start:start + cfg.batch]).to(device)
        names = loaded.names[start:start + cfg.batch]
        row_tiles = [[] for _ in names]
        with torch.no_grad():  # each stage runs once for what it depends on: latents, + head state, + camera
            features = codec.latent_stage(latents)
        for e, head in enumerate(heads):
            with torch.no_grad():
                planes = codec.head_stage(features, latents, expand_batch(head, len(latents)))
            for c, camera in enumerate(cameras):
                with torch.no_grad():
                    rendered = codec.camera_stage(planes, latents, expand_batch(camera[None], len(latents)))
                images = to_uint8(rendered.image)
                for i, (name, image) in enumerate(zip(names, images)):
                    paths.append(save_png(out / f"{name}-c{c:02d}-e{e:02d}.png", image))
                    row_tiles[i].append(image)
                bar.update(len(latents))
        if cfg.grid:
            tiles.extend(row_tiles)
    bar.close()
    if cfg.grid:
        paths.append(save_png(out / "grid.png", np.concatenate([np.concatenate(row, axis=1) for row in tiles], axis=0)))
    return paths
