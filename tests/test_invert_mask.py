"""A mask decides which pixels count: pixels outside it do not move the latent, the camera or any loss."""

from __future__ import annotations

import torch
from test_invert_support import (
    TEST_NEURAL_RES,
    as_target,
    contrasted_generator,
    render_target,
    sample_latent,
)

from next3d.invert.camera_fit import OrbitCamera
from next3d.invert.d_features import DiscriminatorFeatures
from next3d.invert.losses import gradient_loss, pixel_loss
from next3d.invert.objective import ReconstructionLoss
from next3d.invert.pipeline import run_inversion
from next3d.invert.settings import InversionSettings


def _left_half_mask(size: int = 64) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size)
    mask[..., : size // 2] = 1.0
    return mask


def _scribble_outside(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The same picture with different (random, saturated) values wherever the mask is 0."""
    noise = torch.rand(image.shape, generator=torch.Generator().manual_seed(9)) * 2 - 1
    return torch.where(mask > 0, image, noise.sign())


def _random_features() -> DiscriminatorFeatures:
    from next3d.networks.discriminator import DualDiscriminator

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        D = DualDiscriminator(contrasted_generator().config.discriminator())
    return DiscriminatorFeatures(D)


def test_losses_and_their_gradients_ignore_pixels_outside_the_mask():
    torch.manual_seed(0)
    render = (torch.rand(1, 3, 64, 64) * 2.4 - 1.2).requires_grad_(True)
    target = torch.rand(1, 3, 64, 64) * 2 - 1
    mask = _left_half_mask()
    objective = ReconstructionLoss(InversionSettings(), _random_features())
    values, grads = [], []
    for t in (target, _scribble_outside(target, mask)):
        total, parts = objective(render, t, mask)
        (grad,) = torch.autograd.grad(total.sum(), render)
        values.append((total.detach(), parts))
        grads.append(grad)
    assert set(values[0][1]) == {"pixel", "gradient", "features"}
    assert torch.equal(values[0][0], values[1][0])
    assert all(torch.equal(values[0][1][k], values[1][1][k]) for k in values[0][1])
    assert torch.equal(grads[0], grads[1])
    assert float(grads[0][..., 32:].abs().max()) == 0.0  # nothing outside pulls the render either
    # without the mask the scribbles do count (the check above could fail)
    full = torch.ones_like(mask)
    scribbled = _scribble_outside(target, mask)
    assert not torch.equal(pixel_loss(render, target, full), pixel_loss(render, scribbled, full))
    assert not torch.equal(gradient_loss(render, target, full), gradient_loss(render, scribbled, full))


def test_changing_the_target_outside_the_mask_leaves_latent_and_camera_identical():
    G = contrasted_generator()
    image = render_target(G, sample_latent(G, seed=7, psi=0.5), OrbitCamera(0.2, 0.0))
    mask = _left_half_mask()
    other = _scribble_outside(image, mask)
    settings = InversionSettings(steps=3, neural_rendering_resolution=TEST_NEURAL_RES, stats_samples=64,
                                 yaw_candidates=(0.0, 0.3), pitch_candidates=(0.0,))
    features = _random_features()
    a = run_inversion(G, as_target(image, mask), settings, features=features)
    b = run_inversion(G, as_target(other, mask), settings, features=features)
    assert torch.equal(a.ws, b.ws)
    assert a.camera == b.camera and a.camera_search == b.camera_search
    assert a.psnr_after == b.psnr_after

    # control: without the mask the same change moves the latent
    unmasked = InversionSettings(steps=1, neural_rendering_resolution=TEST_NEURAL_RES, stats_samples=64)
    c = run_inversion(G, as_target(image), unmasked, camera=OrbitCamera(0.2, 0.0), features=features)
    d = run_inversion(G, as_target(other), unmasked, camera=OrbitCamera(0.2, 0.0), features=features)
    assert not torch.equal(c.ws, d.ws)
