"""The prior learns a known low-dimensional latent distribution; CFG, image guidance and kept tokens work.

Toy latents: 4 tokens x 8 numbers = M @ (cos t, sin t), a circle on a 2-D plane of R^32. The condition image
is white for the upper half-circle (sin t > 0) and black for the lower one. A few hundred training steps.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from next3d.diffusion.guidance import ImageGuidance, guidance_loss
from next3d.diffusion.latent_stats import write_store_stats
from next3d.diffusion.latent_store import (
    FieldSpec,
    LatentStore,
    LatentStoreWriter,
    StoreLayout,
)
from next3d.diffusion.pipeline import (
    ImageCondition,
    KnownTokens,
    LatentDiffusionPipeline,
)
from next3d.diffusion.train import TrainConfig, train_prior

L, D, COUNT, RES = 4, 8, 2048, 8
BASIS = np.random.default_rng(0).normal(size=(L * D, 2))


def toy_latents(theta: np.ndarray) -> np.ndarray:
    return (np.stack([np.cos(theta), np.sin(theta)], 1) @ BASIS.T).reshape(-1, L, D).astype(np.float32)


def distance_to_support(latents: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sample: RMS residual off the plane, |radius - 1| in the plane, and the plane coordinates."""
    x = latents.detach().cpu().reshape(len(latents), -1).double().numpy().T
    coef, *_ = np.linalg.lstsq(BASIS, x, rcond=None)
    residual = np.linalg.norm(x - BASIS @ coef, axis=0) / np.sqrt(L * D)
    return residual, np.abs(np.linalg.norm(coef, axis=0) - 1), coef


@pytest.fixture(scope="module")
def toy_prior(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    theta = np.random.default_rng(1).uniform(0, 2 * np.pi, COUNT)
    white = np.where(np.sin(theta) > 0, 255, 0).astype(np.uint8)
    images = np.broadcast_to(white[:, None, None, None], (COUNT, RES, RES, 3))
    fields = {"wplus": FieldSpec((L, D), "float32"), "image": FieldSpec((RES, RES, 3), "uint8")}
    layout = StoreLayout(COUNT, 512, fields, ("wplus",))
    writer = LatentStoreWriter(root / "store", layout)
    for shard in writer.pending_shards():
        with writer.open_shard(shard) as arrays:
            arrays["wplus"][:] = toy_latents(theta[shard.start:shard.stop])
            arrays["image"][:] = images[shard.start:shard.stop]
    write_store_stats(LatentStore(root / "store"))
    cfg = TrainConfig(str(root / "store"), str(root / "run"), steps=300, batch=64, lr=2e-3, ema=0.99, width=64, depth=2,
                      heads=4, conditional=True, cond_resolution=RES, cond_channels=8, cond_grid=2, cond_width=32,
                      snapshot_every=10_000, log_every=100, progress=False, device="cpu")
    return train_prior(cfg).prior_ema


def test_samples_land_on_the_training_distribution(toy_prior):
    samples = LatentDiffusionPipeline(toy_prior)(256, steps=30, seed=0).latents  # unconditional (null tokens)
    residual, radius_error, _ = distance_to_support(samples)
    rng = np.random.default_rng(2)
    data = toy_latents(rng.uniform(0, 2 * np.pi, 4096))
    random = torch.from_numpy(data.mean(0) + data.std(0) * rng.normal(size=(256, L, D)))  # same per-element moments
    random_residual, random_radius_error, _ = distance_to_support(random)
    assert np.median(residual) < 0.25 * np.median(random_residual)
    assert np.median(radius_error) < 0.25 * np.median(random_radius_error)
    assert np.median(residual) < 0.2 and np.median(radius_error) < 0.15


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside diffusers, numpy 2
def test_dpm_solver_sampler_also_lands_on_the_distribution(toy_prior):
    samples = LatentDiffusionPipeline(toy_prior)(128, steps=15, seed=0, sampler="dpmsolver").latents
    residual, radius_error, _ = distance_to_support(samples)
    assert np.median(residual) < 0.2 and np.median(radius_error) < 0.15


def test_condition_selects_the_mode_and_cfg_changes_samples(toy_prior):
    pipe = LatentDiffusionPipeline(toy_prior)
    white, black = ImageCondition(torch.ones(1, 3, RES, RES)), ImageCondition(-torch.ones(1, 3, RES, RES))
    upper = pipe(128, steps=30, seed=0, condition=white, cfg_scale=3.0).latents
    lower = pipe(128, steps=30, seed=0, condition=black, cfg_scale=3.0).latents
    plain = pipe(128, steps=30, seed=0, condition=white, cfg_scale=1.0).latents
    assert (distance_to_support(upper)[2][1] > 0).mean() > 0.9
    assert (distance_to_support(lower)[2][1] < 0).mean() > 0.9
    assert (upper - plain).abs().amax(dim=(1, 2)).median() > 0.05  # CFG moved the samples
    assert np.median(distance_to_support(upper)[0]) < 0.2  # and kept them on the support


def _toy_render(latents: torch.Tensor) -> torch.Tensor:
    """A fixed differentiable 'generator': latents (B, 4, 8) -> images (B, 3, 8, 8) in [-1, 1]."""
    weight = torch.from_numpy(np.random.default_rng(3).normal(size=(L * D, 3 * RES * RES)) / np.sqrt(L * D)).float()
    return torch.tanh(latents.reshape(len(latents), -1) @ weight.to(latents)).reshape(-1, 3, RES, RES)


@pytest.mark.parametrize("wrt", ["x_t", "x0"])
def test_image_guidance_lowers_the_loss_against_the_target(toy_prior, wrt):
    target = _toy_render(torch.from_numpy(toy_latents(np.array([2.0]))))
    mask = torch.zeros(1, 1, RES, RES)
    mask[..., : RES // 2] = 1.0  # only the left half counts
    guidance = ImageGuidance(target, mask, scale=5.0, resolution=RES, wrt=wrt)
    pipe = LatentDiffusionPipeline(toy_prior, render_fn=_toy_render)
    plain = pipe(32, steps=20, seed=5).latents
    guided = pipe(32, steps=20, seed=5, guidance=guidance)
    plain_loss = guidance_loss(_toy_render(plain), guidance)
    guided_loss = guidance_loss(_toy_render(guided.latents), guidance)
    assert guided_loss.mean() < 0.3 * plain_loss.mean()
    assert (guided_loss < plain_loss).float().mean() > 0.8
    assert np.median(distance_to_support(guided.latents)[0]) < 0.2  # still a plausible latent
    assert len(guided.guidance_losses) == 20


def test_known_tokens_are_kept_and_the_rest_completed_consistently(toy_prior):
    reference = torch.from_numpy(toy_latents(np.array([1.0])))
    keep = torch.tensor([True, True, False, False])
    out = LatentDiffusionPipeline(toy_prior)(16, steps=30, seed=0, known=KnownTokens(reference, keep)).latents
    assert torch.equal(out[:, :2], reference[:, :2].expand(16, -1, -1).to(out))
    # two tokens pin the point on the circle, so the sampled tokens should be that point's too
    error = (out[:, 2:] - reference[:, 2:]).abs().mean()
    others = torch.from_numpy(toy_latents(np.random.default_rng(4).uniform(0, 2 * np.pi, 64)))
    assert error < 0.5 * (others[:, 2:] - reference[:, 2:]).abs().mean()


def test_sample_i_depends_on_seed_plus_i_only_and_callback_can_stop(toy_prior):
    pipe = LatentDiffusionPipeline(toy_prior)
    batch = pipe(3, steps=10, seed=7, eta=0.5).latents
    alone = pipe(1, steps=10, seed=9, eta=0.5).latents
    torch.testing.assert_close(batch[2:], alone, rtol=1e-4, atol=1e-5)
    seen = []
    stopped = pipe(2, steps=10, seed=0, callback=lambda p: seen.append(p.step) or p.step < 4)
    assert stopped.cancelled and seen == [1, 2, 3, 4] and stopped.latents.shape == (2, L, D)
