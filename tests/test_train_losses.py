"""The training objective and schedule pieces: losses, dual R1, pose-swap, blur, EMA/lazy-reg maths, data order."""

import math

import pytest
import torch

from next3d.train import losses, schedule
from next3d.utils.ema import update_ema
from next3d.train.optim import lazy_adam, load_optimizer_tensors, optimizer_tensors
from next3d.train.sampler import StreamSampler
from next3d.train.seeding import micro_seed


def test_nonsaturating_losses_match_their_definitions():
    logits = torch.tensor([[-3.0], [0.0], [2.5]])
    assert torch.allclose(losses.generator_loss(logits), torch.log1p(torch.exp(-logits)))
    assert torch.allclose(losses.discriminator_fake_loss(logits), torch.log1p(torch.exp(logits)))
    assert torch.allclose(losses.discriminator_real_loss(logits), torch.log1p(torch.exp(-logits)))
    # A discriminator that cannot tell (logit 0 everywhere) pays ln 4 in total.
    zero = torch.zeros(1, 1)
    total = losses.discriminator_fake_loss(zero) + losses.discriminator_real_loss(zero)
    assert math.isclose(float(total), math.log(4), rel_tol=1e-6)


def test_dual_r1_is_the_squared_input_gradient_of_both_inputs_and_trains_the_weights():
    w_img = torch.randn(1, 3, 8, 8, requires_grad=True)
    w_raw = torch.randn(1, 3, 4, 4, requires_grad=True)
    image = torch.randn(2, 3, 8, 8, requires_grad=True)
    raw = torch.randn(2, 3, 4, 4, requires_grad=True)
    logits = ((image * w_img).sum([1, 2, 3]) + (raw * w_raw).sum([1, 2, 3])) ** 2 / 10
    penalty = losses.r1_penalty(logits[:, None], [image, raw])
    # d logits_i / d image_i = 2 s_i w / 10 with s_i the linear score:
    # penalty_i = (2 s_i / 10)^2 (|w_img|^2 + |w_raw|^2)
    s = (image * w_img).sum([1, 2, 3]) + (raw * w_raw).sum([1, 2, 3])
    expected = (2 * s / 10) ** 2 * (w_img.square().sum() + w_raw.square().sum())
    assert torch.allclose(penalty, expected, rtol=1e-5)
    penalty.sum().backward()  # create_graph: the penalty reaches the weights
    assert w_img.grad is not None and w_img.grad.abs().sum() > 0 and w_raw.grad.abs().sum() > 0


def test_pose_swap_uses_a_neighbours_camera_with_the_given_probability():
    torch.manual_seed(0)
    c = torch.arange(2000, dtype=torch.float32)[:, None].expand(-1, 25).contiguous()
    assert torch.equal(losses.swap_conditioning(c, 0.0), c)
    assert torch.equal(losses.swap_conditioning(c, 1.0), torch.roll(c, 1, 0))
    assert torch.equal(losses.swap_conditioning(c, None), torch.zeros_like(c))
    mixed = losses.swap_conditioning(c, 0.5)
    swapped = (mixed[:, 0] != c[:, 0]).float().mean()
    assert 0.45 < float(swapped) < 0.55
    # Whole-batch draw (density regularization): all or nothing.
    whole = losses.swap_conditioning(c, 0.5, per_sample=False)
    assert torch.equal(whole, c) or torch.equal(whole, torch.roll(c, 1, 0))


def test_blur_keeps_flat_regions_and_removes_detail():
    flat = torch.full((1, 3, 32, 32), 0.3)
    blurred = losses.gaussian_blur(flat, 2.0)
    assert torch.allclose(blurred[..., 8:-8, 8:-8], flat[..., 8:-8, 8:-8], atol=1e-6)
    checker = (torch.arange(32)[:, None] + torch.arange(32)[None]) % 2 * 2.0 - 1
    assert losses.gaussian_blur(checker.expand(1, 3, 32, 32), 2.0)[..., 8:-8, 8:-8].abs().max() < 0.05
    assert losses.gaussian_blur(checker.expand(1, 3, 32, 32), 0.3) is not None  # floor(0.9) = 0 taps: identity
    assert torch.equal(losses.gaussian_blur(flat, 0.3), flat)


def test_density_points_follow_the_official_ranges():
    torch.manual_seed(0)
    points, moved = losses.density_points(2, 5000, 0.004, "cpu")
    assert points.shape == moved.shape == (2, 5000, 3)
    assert points.min() >= -1 and points.max() <= 1 and points.abs().max() > 0.99
    assert abs(float((moved - points).std()) - 0.004) < 2e-4
    assert float(losses.density_l1(points[..., :1], points[..., :1])) == 0.0


def test_schedules_fade_and_ema_half_life():
    assert schedule.blur_sigma(0, 10, 25) == 10 and schedule.blur_sigma(12_500, 10, 25) == 5
    assert schedule.blur_sigma(30_000, 10, 25) == 0
    assert schedule.swap_probability(0, 0.5, 1000) == 1.0
    assert schedule.swap_probability(500_000, 0.5, 1000) == 0.75
    assert schedule.swap_probability(2_000_000, 0.5, 1000) == 0.5
    assert schedule.swap_probability(0, None, 1000) is None
    # After half_life images the old weights count half: beta ** (half_life / batch) = 0.5.
    beta = schedule.ema_beta(10**9, batch=32, half_life_kimg=10, rampup=0.05)
    assert math.isclose(beta ** (10_000 / 32), 0.5, rel_tol=1e-9)
    assert schedule.ema_beta(0, 32, 10, 0.05) == 0.0  # ramp-up: G_ema starts as G
    assert schedule.ema_beta(1000, 32, 10, 0.05) == pytest.approx(0.5 ** (32 / 50))
    assert schedule.lazy_ratio(16) == 16 / 17 and schedule.lazy_ratio(None) == 1.0
    assert schedule.steps_for(0.01, 4) == 3


def test_lazy_regularization_corrects_adam_lr_and_betas():
    module = torch.nn.Linear(2, 2)
    opt = lazy_adam(module, 0.002, (0.0, 0.99), 16)
    group = opt.param_groups[0]
    assert group["lr"] == pytest.approx(0.002 * 16 / 17)
    assert group["betas"][1] == pytest.approx(0.99 ** (16 / 17)) and group["betas"][0] == 0.0
    assert lazy_adam(module, 0.002, (0.0, 0.99), None).param_groups[0]["lr"] == 0.002


def test_optimizer_state_round_trips_through_named_tensors():
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    b = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    b.load_state_dict(a.state_dict())
    opt_a, opt_b = lazy_adam(a, 0.01, (0.0, 0.99), 4), lazy_adam(b, 0.01, (0.0, 0.99), 4)
    x = torch.randn(8, 3)
    for _ in range(3):
        opt_a.zero_grad()
        a(x).square().mean().backward()
        opt_a.step()
    b.load_state_dict(a.state_dict())
    load_optimizer_tensors(opt_b, b, {k: v.clone() for k, v in optimizer_tensors(opt_a, a).items()}, "test")
    for model, opt in ((a, opt_a), (b, opt_b)):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_ema_lerps_parameters_and_copies_buffers():
    G, G_ema = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        G.weight.fill_(1.0)
        G_ema.weight.fill_(0.0)
        G.running_mean.fill_(5.0)
    update_ema(G_ema, G, beta=0.75)
    assert torch.allclose(G_ema.weight, torch.full((3,), 0.25))
    assert torch.equal(G_ema.running_mean, G.running_mean)


def test_data_stream_is_sharded_without_overlap_and_resumes_exactly():
    def take(sampler, n):
        it = iter(sampler)
        return [next(it) for _ in range(n)]

    size, batch, batch_gpu = 10, 8, 2
    single = take(StreamSampler(size, 3, batch, batch_gpu), 3 * batch)
    ranks = [take(StreamSampler(size, 3, batch, batch_gpu, rank=r, world_size=2), 3 * batch // 2) for r in range(2)]
    # Step by step, rank 0 then rank 1 read exactly the one-process stream.
    merged = []
    for step in range(3):
        for r in range(2):
            merged += ranks[r][step * 4:(step + 1) * 4]
    assert merged == single
    # Each pass over the data is a permutation; resuming at step 2 continues the same stream.
    assert sorted(single[:size]) == list(range(size)) and sorted(single[size:2 * size]) == list(range(size))
    assert take(StreamSampler(size, 3, batch, batch_gpu, start_step=2), batch) == single[2 * batch:3 * batch]
    assert take(StreamSampler(size, 4, batch, batch_gpu), batch) != single[:batch]  # another seed, another order


def test_micro_batch_seeds_are_reproducible_and_distinct():
    seeds = {micro_seed(0, step, phase, m) for step in range(20) for phase in ("Gmain", "Dmain") for m in range(4)}
    assert len(seeds) == 20 * 2 * 4
    assert micro_seed(1, 5, "Dreg", 2) == micro_seed(1, 5, "Dreg", 2)


def test_gradient_sanitizing_zeroes_nan_and_clamps_inf():
    from next3d.train.optim import sanitize_gradients

    module = torch.nn.Linear(3, 2)
    module.weight.grad = torch.tensor([[float("nan"), 1.0, float("inf")], [-float("inf"), 2.0, 3.0]])
    module.bias.grad = None
    sanitize_gradients(module)
    assert module.weight.grad.tolist() == [[0.0, 1.0, 1e5], [-1e5, 2.0, 3.0]]
    assert module.bias.grad is None
