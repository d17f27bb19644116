"""Helpers for the inversion tests (no tests here): a tiny generator whose random-weight renders have contrast
and solid 3D structure, targets rendered from a known latent and camera, and files built from them.

An untrained tiny generator renders a near-uniform, view-independent fog (two colour channels saturated at -1,
density ~ softplus(-1) everywhere), in which neither a latent nor a camera can be recognised. Three rescalings
of its random weights fix that without changing the architecture: density logits x10 (solid surfaces), colour
logits x8 (contrast), super-resolution RGB residuals x0.1 (the untrained residual only adds saturating offsets).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from next3d.head import HeadParams, load_default_head
from next3d.invert.camera_fit import OrbitCamera
from next3d.invert.image_input import TargetImage
from next3d.networks.generator import Next3DGenerator, RenderOptions
from next3d.networks.presets import preset_config

TEST_NEURAL_RES = 16  # neural rendering resolution used by the CPU tests (the tiny preset's own is 32)


def contrasted_generator(seed: int = 0) -> Next3DGenerator:
    """The tiny preset with random weights (seeded), rescaled as the module docstring says; eval, no gradients."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = Next3DGenerator(preset_config("tiny"), load_default_head())
    with torch.no_grad():
        G.decoder.net[2].weight[0] *= 10.0
        G.decoder.net[2].weight[1:] *= 8.0
        for block in (G.superresolution.block0, G.superresolution.block1):
            block.torgb.weight *= 0.1
            block.torgb.bias *= 0.1
    return G.eval().requires_grad_(False)


def mean_latent(G, samples: int = 512) -> torch.Tensor:
    """(1, 1, w_dim) mean of mapped samples (the random model's w_avg buffer was never tracked)."""
    c = OrbitCamera().label()
    z = torch.randn(samples, G.z_dim, generator=torch.Generator().manual_seed(1234))
    with torch.no_grad():
        return G.mapping(z, c.expand(samples, -1)).mean(0, keepdim=True)[:, :1]


def sample_latent(G, seed: int, psi: float = 1.0) -> torch.Tensor:
    """(1, num_ws, w_dim) of z drawn with `seed`, truncated toward the mean latent by `psi`."""
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        w = G.mapping(z, OrbitCamera().label())
    avg = mean_latent(G)
    return avg + psi * (w - avg)


def render_target(G, ws: torch.Tensor, camera: OrbitCamera, neural_res: int = TEST_NEURAL_RES) -> torch.Tensor:
    """(1, 3, R, R) in [-1, 1], quantized to 8 bits like a photo read from a PNG."""
    with torch.no_grad():
        image = G.synthesis(ws, camera.label(), HeadParams.neutral(G.head),
                            RenderOptions(neural_rendering_resolution=neural_res)).image
    return torch.round((image.clamp(-1, 1) + 1) * 127.5) / 127.5 - 1


def as_target(image: torch.Tensor, mask: torch.Tensor | None = None) -> TargetImage:
    mask = torch.ones_like(image[:, :1]) if mask is None else mask
    return TargetImage(image.clone(), mask, "test render")


def to_uint8(image: torch.Tensor) -> np.ndarray:
    return ((image[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()


def save_snapshot_file(path, G, with_discriminator: bool = True) -> None:
    """A training-snapshot-like checkpoint: G_ema (and a random D with its config)."""
    from next3d.io.checkpoint import save_checkpoint
    from next3d.io.generator_file import generator_meta
    from next3d.networks.discriminator import DualDiscriminator

    modules, meta = {"G_ema": G}, {"kind": "snapshot", **generator_meta(G)}
    if with_discriminator:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            D = DualDiscriminator(G.config.discriminator())
        modules["D"] = D
        meta["discriminator_config"] = dataclasses.asdict(D.config)
    save_checkpoint(path, modules, meta)
