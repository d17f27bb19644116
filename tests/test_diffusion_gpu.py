"""The prior on CUDA: sampling matches the CPU, guidance through the generator's CUDA path lowers the loss,
save-samples writes on the GPU what the CPU computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from next3d.diffusion import (
    ImageGuidance,
    LatentCodec,
    LatentDiffusionPipeline,
    LatentPrior,
)
from next3d.diffusion.denoiser import DenoiserConfig
from next3d.diffusion.generator_source import GeneratorSource
from next3d.diffusion.guidance import guidance_loss
from next3d.diffusion.latent_store import LatentStore
from next3d.diffusion.prior import PriorConfig
from next3d.diffusion.save_samples import SaveSamplesConfig, save_samples
from next3d.head import HeadParams
from next3d.render.camera import make_label, orbit_pose

pytestmark = pytest.mark.gpu


def _prior(shape, seed: int = 0) -> LatentPrior:
    torch.manual_seed(seed)
    prior = LatentPrior(PriorConfig("wplus", "minmax", DenoiserConfig(shape[0], shape[1], 64, 2, 4)))
    with torch.no_grad():  # non-trivial weights: the zero-initialised output layers get random values
        for p in prior.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return prior.eval().requires_grad_(False)


def test_cuda_sampling_matches_the_cpu_for_the_same_seeds():
    prior = _prior((6, 16))
    cpu = LatentDiffusionPipeline(prior)(4, steps=20, seed=3, eta=0.3).latents
    gpu = LatentDiffusionPipeline(prior.to("cuda"))(4, steps=20, seed=3, eta=0.3).latents
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-3, atol=1e-3)


def test_guidance_through_the_cuda_generator_lowers_the_image_loss():
    G = GeneratorSource(preset="tiny").load("cuda")
    codec = LatentCodec(G, "wplus")
    render = codec.render_fn(make_label(orbit_pose(0.0, 0.0)).cuda(), HeadParams.neutral(G.head, device="cuda"))
    prior = _prior(codec.shape).to("cuda")
    with torch.no_grad():
        ws = G.mapping(torch.randn(1, G.z_dim, device="cuda"), make_label(orbit_pose(0.0, 0.0)).cuda(), 0.7)
        prior.normalizer.center.copy_(ws[0])
        target = render(ws)
    guidance = ImageGuidance(target, scale=3.0, resolution=64)
    pipe = LatentDiffusionPipeline(prior, render)
    plain = pipe(2, steps=5, seed=0).latents
    guided = pipe(2, steps=5, seed=0, guidance=guidance).latents
    with torch.no_grad():
        assert (guidance_loss(render(guided), guidance) < guidance_loss(render(plain), guidance)).all()


def test_save_samples_on_cuda_stores_what_the_cpu_computes(tmp_path):
    cfg = SaveSamplesConfig(str(tmp_path / "gpu"), 2, batch=2, image_resolution=32, progress=False, device="cuda")
    save_samples(cfg, GeneratorSource(preset="tiny"))
    cfg = SaveSamplesConfig(str(tmp_path / "cpu"), 2, batch=2, image_resolution=32, progress=False, device="cpu")
    save_samples(cfg, GeneratorSource(preset="tiny"))
    gpu, cpu = LatentStore(tmp_path / "gpu"), LatentStore(tmp_path / "cpu")
    np.testing.assert_allclose(gpu["wplus"][:], cpu["wplus"][:], rtol=0, atol=1e-4)
    assert np.abs(gpu["image"][:].astype(int) - cpu["image"][:].astype(int)).mean() < 2.0
