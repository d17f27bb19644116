"""save-samples: draw avatars from the generator and store their latents, cameras, head parameters and images.

Sample i uses seed s = base seed + i for everything: z = z_from_seed(s) (the visualizer's seed, so sample i
opens in the GUI as seed s), then a torch generator seeded with s draws the camera and the head parameters.
The mapping is conditioned on the frontal camera (EG3D's convention for sampling) and truncated with psi.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from next3d.capture.latents import z_from_seed
from next3d.data.pose_sampling import (
    HeadDistribution,
    PoseDistribution,
    camera_labels,
    sample_camera,
    sample_head_vector,
)
from next3d.diffusion.distributed import barrier, context_from_environ, init_process_group
from next3d.diffusion.generator_source import GeneratorSource
from next3d.diffusion.image_inputs import to_uint8
from next3d.utils.jsonl import append_event
from next3d.diffusion.latent_codec import LATENT_KINDS, LatentCodec
from next3d.diffusion.latent_stats import write_store_stats
from next3d.diffusion.latent_store import (
    STATS_NAME,
    FieldSpec,
    LatentStore,
    LatentStoreWriter,
    StoreLayout,
)
from next3d.errors import BadInputError
from next3d.head.params import sizes_for
from next3d.utils.device import resolve_device

CAMERA_MODES = ("random", "frontal")
HEAD_MODES = ("neutral", "random")
LATENT_DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class SaveSamplesConfig:
    """A save-samples job; `image_resolution` None = min(256, generator resolution), 0 = no images."""

    out: str
    count: int
    latents: tuple[str, ...] = ("wplus",)
    seed: int = 0
    truncation_psi: float = 0.7
    truncation_cutoff: int | None = None
    camera: str = "random"
    head: str = "neutral"
    image_resolution: int | None = None
    shard_size: int = 1024
    batch: int = 8
    dtype: str = "float32"
    device: str = "auto"
    progress: bool = True

    def validate(self) -> None:
        bad = [k for k in self.latents if k not in LATENT_KINDS]
        if not self.latents or bad or len(set(self.latents)) != len(self.latents):
            raise BadInputError(f"--latent {','.join(self.latents)}: choose from {', '.join(LATENT_KINDS)} (each once)")
        for name, value, allowed in (("--camera", self.camera, CAMERA_MODES), ("--head", self.head, HEAD_MODES),
                                     ("--dtype", self.dtype, LATENT_DTYPES)):
            if value not in allowed:
                raise BadInputError(f"{name} {value}: expected one of {', '.join(allowed)}")
        if self.count < 1 or self.shard_size < 1 or self.batch < 1:
            raise BadInputError(f"--n {self.count}, --shard-size {self.shard_size}, --batch {self.batch}: "
                                "all must be >= 1")
        if self.image_resolution is not None and self.image_resolution < 0:
            raise BadInputError(f"--image-res {self.image_resolution}: must be >= 0")


def store_layout(cfg: SaveSamplesConfig, G, codecs: dict[str, LatentCodec], source: dict) -> StoreLayout:
    """The fields of a store written by this job for generator G."""
    fields = {kind: FieldSpec(codec.shape, cfg.dtype) for kind, codec in codecs.items()}
    fields["seed"] = FieldSpec((), "int64")
    fields["camera"] = FieldSpec((25,), "float32")
    fields["head"] = FieldSpec((sum(sizes_for(G.head).values()),), "float32")  # HeadParams.to_vector
    resolution = image_resolution(cfg, G)
    if resolution:
        fields["image"] = FieldSpec((resolution, resolution, 3), "uint8")
    meta = {"generator": source, "head_model": {"name": G.head.name, "hash": G.head_hash},
            "seed": cfg.seed, "truncation_psi": cfg.truncation_psi, "truncation_cutoff": cfg.truncation_cutoff,
            "camera": cfg.camera, "head": cfg.head, "conditioning_camera": "frontal",
            "style_layout": [list(t) for t in codecs["style"].layout.tokens] if "style" in codecs else None}
    return StoreLayout(cfg.count, cfg.shard_size, fields, tuple(cfg.latents), meta)


def image_resolution(cfg: SaveSamplesConfig, G) -> int:
    return min(256, G.img_resolution) if cfg.image_resolution is None else cfg.image_resolution


def save_samples(cfg: SaveSamplesConfig, source: GeneratorSource) -> Path:
    """Write (or finish) the store; with RANK/WORLD_SIZE set, write only this rank's shards."""
    cfg.validate()
    env = context_from_environ(resolve_device(cfg.device))
    device = env.device
    joined = init_process_group(env)
    try:
        G = source.load(device)
        codecs = {kind: LatentCodec(G, kind) for kind in cfg.latents}
        writer = LatentStoreWriter(cfg.out, store_layout(cfg, G, codecs, source.describe()))
        shards = writer.pending_shards(env.rank, env.world_size)
        log = Path(cfg.out) / "logs" / f"save-samples-rank{env.rank}.jsonl"
        append_event(log, "start", rank=env.rank, world_size=env.world_size, shards=len(shards), device=str(device))
        bar = tqdm(total=sum(len(s) for s in shards), desc=f"save-samples[{env.rank}]", unit="sample",
                   disable=not cfg.progress)
        for shard in shards:
            t0 = time.time()
            with writer.open_shard(shard) as arrays:
                for start in range(shard.start, shard.stop, cfg.batch):
                    stop = min(start + cfg.batch, shard.stop)
                    batch = render_batch(cfg, G, codecs, range(start, stop), device)
                    for name, values in batch.items():
                        arrays[name][start - shard.start:stop - shard.start] = values
                    bar.update(stop - start)
            append_event(log, "shard", start=shard.start, stop=shard.stop, seconds=time.time() - t0)
        bar.close()
        barrier()
        # With a process group rank 0 finishes the store; ranks run one after another (no group): the last one.
        finisher = env.is_main or not torch.distributed.is_initialized()
        if finisher and writer.all_complete() and not (Path(cfg.out) / STATS_NAME).exists():
            write_store_stats(LatentStore(cfg.out))
            append_event(log, "stats", count=cfg.count)
        barrier()
    finally:
        if joined:
            torch.distributed.destroy_process_group()
    return Path(cfg.out)


@torch.no_grad()
def render_batch(cfg: SaveSamplesConfig, G, codecs: dict[str, LatentCodec], indices: range,
                 device: torch.device) -> dict[str, np.ndarray]:
    """Every stored field for samples `indices` (numpy, store dtypes)."""
    from next3d.head import HeadParams

    seeds = [cfg.seed + i for i in indices]
    pose, head_dist = PoseDistribution(), HeadDistribution()
    angles, heads = [], []
    for s in seeds:
        gen = torch.Generator().manual_seed(s)
        angles.append(sample_camera(gen, pose) if cfg.camera == "random" else (0.0, 0.0))
        heads.append(sample_head_vector(gen, G.head, head_dist) if cfg.head == "random"
                     else HeadParams.neutral(G.head, device="cpu").to_vector()[0])
    yaw, pitch = torch.tensor(angles, dtype=torch.float32).T
    c_render = camera_labels(yaw, pitch, pose).to(device)
    c_cond = camera_labels(torch.zeros(len(seeds)), torch.zeros(len(seeds)), pose).to(device)
    head_vec = torch.stack(heads).to(torch.float32)
    z = torch.from_numpy(np.stack([z_from_seed(s, G.z_dim) for s in seeds])).to(device)
    ws = G.mapping(z, c_cond, truncation_psi=cfg.truncation_psi, truncation_cutoff=cfg.truncation_cutoff)
    out = {"seed": np.asarray(seeds, dtype=np.int64), "camera": c_render.cpu().numpy(), "head": head_vec.numpy()}
    for kind, codec in codecs.items():
        out[kind] = codec.from_ws(ws).cpu().numpy().astype(cfg.dtype)
    resolution = image_resolution(cfg, G)
    if resolution:
        image = G.synthesis(ws, c_render, HeadParams.from_vector(head_vec, G.head).to(device)).image
        if image.shape[-1] != resolution:
            image = torch.nn.functional.interpolate(image, size=(resolution, resolution), mode="bilinear",
                                                    antialias=True, align_corners=False)
        out["image"] = to_uint8(image)
    return out
