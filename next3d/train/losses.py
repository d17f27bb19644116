"""The GAN objective of EG3D/Next3D as plain functions: non-saturating logistic loss, dual R1, density
regularization, generator pose conditioning (camera swap) and the fading blur of D's inputs."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from next3d.networks.discriminator import filtered_resizing
from next3d.networks.ops.upfirdn2d import filter2d


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss per sample: softplus(-D(G(z)))."""
    return F.softplus(-fake_logits)


def discriminator_fake_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """D loss on generated images per sample: softplus(D(G(z)))."""
    return F.softplus(fake_logits)


def discriminator_real_loss(real_logits: torch.Tensor) -> torch.Tensor:
    """D loss on real images per sample: softplus(-D(x))."""
    return F.softplus(-real_logits)


def r1_penalty(real_logits: torch.Tensor, inputs: list[torch.Tensor]) -> torch.Tensor:
    """Dual R1: per-sample squared norm of d(sum logits)/d(input), summed over all inputs (image and raw image).

    The graph is kept (create_graph) so the penalty can be minimized w.r.t. D's weights.
    """
    grads = torch.autograd.grad(outputs=[real_logits.sum()], inputs=inputs, create_graph=True, only_inputs=True)
    return sum(g.square().sum(dim=[1, 2, 3]) for g in grads)


def density_l1(sigma: torch.Tensor, sigma_perturbed: torch.Tensor) -> torch.Tensor:
    """EG3D's 'l1' density regularization: mean |sigma(p) - sigma(p + eps)| (raw densities)."""
    return F.l1_loss(sigma, sigma_perturbed)


def density_points(batch: int, count: int, p_dist: float, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random world points uniform in [-1, 1]^3 (official range) and copies moved by N(0, p_dist^2).

    Both (B, count, 3)."""
    points = torch.rand(batch, count, 3, device=device) * 2 - 1
    return points, points + torch.randn_like(points) * p_dist


def swap_conditioning(c: torch.Tensor, prob: float | None, per_sample: bool = True) -> torch.Tensor:
    """Generator pose conditioning: each sample's mapping camera is its neighbour's (roll by one) with
    probability `prob` (per sample, or one draw for the batch); None conditions on zeros (no pose conditioning)."""
    if prob is None:
        return torch.zeros_like(c)
    swapped = torch.roll(c, 1, 0)
    shape = (c.shape[0], 1) if per_sample else ()
    return torch.where(torch.rand(shape, device=c.device) < prob, swapped, c)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """EG3D's fading blur: separable kernel 2^-(x/sigma)^2 over |x| <= floor(3 sigma), zero padding; identity
    when the kernel would be one tap."""
    size = math.floor(sigma * 3)
    if size <= 0:
        return images
    taps = torch.arange(-size, size + 1, device=images.device, dtype=torch.float32).div(sigma).square().neg().exp2()
    return filter2d(images, taps / taps.sum())


def real_raw_images(real: torch.Tensor, size: int, resample_filter: torch.Tensor, filter_mode: str) -> torch.Tensor:
    """The dual discriminator's raw counterpart of real images: a filtered resize to the neural resolution."""
    return filtered_resizing(real, size, resample_filter, filter_mode)

