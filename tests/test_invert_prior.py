"""Starting latents other than w_avg: the best of K mapped samples, or of K diffusion-prior samples conditioned on
and guided toward the photo (next3d.diffusion); a prior that models other latents is refused by name."""

from __future__ import annotations

import pytest
import torch
from test_invert_support import (
    TEST_NEURAL_RES,
    as_target,
    contrasted_generator,
    render_target,
    sample_latent,
)

from next3d.errors import BadInputError
from next3d.invert.camera_fit import OrbitCamera
from next3d.invert.pipeline import run_inversion
from next3d.invert.settings import InversionSettings

CAMERA = OrbitCamera(0.1, 0.0)


def _save_prior(path, G, shape, conditional: bool) -> None:
    """A small random-weights W+ prior whose normalizer spans the generator's mapped latents."""
    from next3d.diffusion import LatentPrior
    from next3d.diffusion.denoiser import DenoiserConfig
    from next3d.diffusion.image_encoder import ImageEncoderConfig
    from next3d.diffusion.latent_stats import LatentStats
    from next3d.diffusion.normalization import LatentNormalizer
    from next3d.diffusion.prior import PriorConfig
    from next3d.io.checkpoint import save_checkpoint

    encoder = ImageEncoderConfig(resolution=32, channels=8, token_grid=4, width=16) if conditional else None
    cfg = PriorConfig("wplus", "meanstd", DenoiserConfig(shape[0], shape[1], width=32, depth=1, heads=2,
                                                         cond_dim=encoder.width if encoder else 0), encoder)
    z = torch.randn(64, G.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ws = G.mapping(z, OrbitCamera().label().expand(64, -1))[:, :shape[0], :shape[1]].numpy()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        prior = LatentPrior(cfg, LatentNormalizer.from_stats(LatentStats.of(ws), "meanstd"))
    save_checkpoint(path, {"prior": prior, "prior_ema": prior}, {"kind": "prior", "prior_config": cfg.to_dict()})


@pytest.fixture(scope="module")
def setup():
    G = contrasted_generator()
    target = as_target(render_target(G, sample_latent(G, seed=21, psi=0.5), CAMERA))
    return G, target


FAST = {"steps": 1, "neural_rendering_resolution": TEST_NEURAL_RES, "stats_samples": 64, "init_candidates": 3}


def test_prior_start_keeps_the_best_of_its_conditioned_guided_samples(setup, tmp_path):
    G, target = setup
    _save_prior(tmp_path / "prior.safetensors", G, (G.num_ws, G.w_dim), conditional=True)
    settings = InversionSettings(init="prior", prior_steps=2, **FAST)
    result = run_inversion(G, target, settings, camera=CAMERA, prior=tmp_path / "prior.safetensors")
    assert result.init.startswith("best of 3 diffusion-prior samples (2 steps, image-conditioned, guidance 1")
    assert len(result.init_losses) == 3
    best = min(range(3), key=result.init_losses.__getitem__)
    assert result.init.endswith(f"candidate {best}")
    mean_start = run_inversion(G, target, InversionSettings(**{**FAST, "steps": 0}), camera=CAMERA)
    assert not (result.before == mean_start.before).all()  # it did not start from w_avg


def test_random_start_keeps_the_best_of_k_mapped_samples(setup):
    G, target = setup
    result = run_inversion(G, target, InversionSettings(init="random", **FAST), camera=CAMERA)
    assert result.init.startswith("best of 3 mapped random samples (seed 0)")
    assert result.init.endswith(f"candidate {min(range(3), key=result.init_losses.__getitem__)}")


def test_a_prior_of_other_latents_or_a_generator_file_is_refused(setup, tmp_path):
    G, target = setup
    _save_prior(tmp_path / "narrow.safetensors", G, (G.num_ws, 64), conditional=False)
    settings = InversionSettings(init="prior", prior_steps=1, **FAST)
    with pytest.raises(BadInputError, match=r"narrow\.safetensors: models 'wplus' latents of shape \(20, 64\)"):
        run_inversion(G, target, settings, camera=CAMERA, prior=tmp_path / "narrow.safetensors")
    with pytest.raises(BadInputError, match="needs a diffusion prior checkpoint"):
        run_inversion(G, target, settings, camera=CAMERA)
