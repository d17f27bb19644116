"""FIR resampling, resampling convolution and bias+activation behave like StyleGAN2's operators."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from next3d.networks.ops import bias_act, conv2d_resample, downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d


def test_setup_filter_builds_normalized_outer_product():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4)
    assert torch.allclose(f, torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64)


def test_upsample_matches_hand_computed_1d_case():
    # Horizontal-only filter [1,3,3,1]/8; zero insertion halves the mean, the x2 gain restores it.
    f = setup_filter([[1, 3, 3, 1]])
    x = torch.tensor([[[[1.0, 0.0]]]])
    y = upsample2d(x, f, up=(2, 1))
    assert torch.allclose(y, torch.tensor([[[[0.75, 0.75, 0.25, 0.0]]]]))


def test_downsample_matches_hand_computed_1d_case():
    f = setup_filter([[1, 3, 3, 1]])
    x = torch.tensor([[[[1.0, 2.0, 3.0, 4.0]]]])
    y = downsample2d(x, f, down=(2, 1))
    # Padded [0,1,2,3,4,0], taps [1,3,3,1]/8, stride 2.
    assert torch.allclose(y, torch.tensor([[[[12 / 8, 23 / 8]]]]))


def test_upsample_keeps_constant_image_constant_in_the_interior():
    f = setup_filter([1, 3, 3, 1])
    y = upsample2d(torch.full((2, 3, 8, 8), 2.5), f)
    assert y.shape == (2, 3, 16, 16)
    assert torch.allclose(y[:, :, 1:-1, 1:-1], torch.full_like(y[:, :, 1:-1, 1:-1], 2.5))
    assert (y[:, :, 0, 0] < 2.5).all()  # zeros outside the image leak in at the border


def test_separable_and_2d_filters_agree():
    x = torch.randn(1, 2, 7, 9)
    f2 = setup_filter([1, 3, 3, 1])
    f1 = setup_filter([1, 3, 3, 1], separable=True)
    assert f1.ndim == 1
    for op in (lambda f: upsample2d(x, f), lambda f: downsample2d(x, f), lambda f: filter2d(x, f)):
        torch.testing.assert_close(op(f1), op(f2), atol=1e-6, rtol=1e-5)


def test_upfirdn2d_negative_padding_crops():
    x = torch.arange(25.0).reshape(1, 1, 5, 5)
    y = upfirdn2d(x, None, padding=[-1, -2, 0, -1])
    assert torch.equal(y, x[:, :, 0:4, 1:3])


def test_kernel_switch_leaves_cpu_tensors_on_the_reference_path():
    """`use_kernel` only routes CUDA tensors to the Triton kernel: on the CPU the result is the reference's."""
    from next3d.networks.ops.upfirdn2d import use_kernel

    x = torch.randn(1, 3, 8, 8)
    f = setup_filter([1, 3, 3, 1])
    ref = upsample2d(x, f)
    with use_kernel():
        assert torch.equal(upsample2d(x, f), ref)


def _reference_conv2d_resample(x, w, f, up, down, padding, groups, flip_weight):
    """The operator's definition, step by step: zero-insert, pad, FIR, conv, FIR + decimate."""
    fw = f.shape[-1]
    p0 = p1 = padding
    if up > 1:
        p0, p1 = p0 + (fw + up - 1) // 2, p1 + (fw - up) // 2
    if down > 1:
        p0, p1 = p0 + (fw - down + 1) // 2, p1 + (fw - down) // 2
    b, c, h, wd = x.shape
    z = torch.zeros(b, c, h * up, wd * up)
    z[:, :, ::up, ::up] = x
    z = F.pad(z, [p0, p1, p0, p1])
    if up > 1:
        k = (f * up**2).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
        z = F.conv2d(z, k, groups=c)
    kernel = w if flip_weight else w.flip([2, 3])
    y = F.conv2d(z, kernel, groups=groups)
    if down > 1:
        k = f.flip([0, 1])[None, None].repeat(y.shape[1], 1, 1, 1)
        y = F.conv2d(y, k, groups=y.shape[1])[:, :, ::down, ::down]
    return y


@pytest.mark.parametrize("up,down", [(1, 1), (2, 1), (1, 2)])
@pytest.mark.parametrize("kernel", [1, 3])
@pytest.mark.parametrize("flip_weight", [True, False])
def test_conv2d_resample_matches_its_definition(up, down, kernel, flip_weight):
    torch.manual_seed(0)
    groups = 2
    x = torch.randn(2, 4, 8, 8)
    w = torch.randn(6, 4 // groups, kernel, kernel)
    f = setup_filter([1, 3, 3, 1])
    pad = kernel // 2
    got = conv2d_resample(x, w, f, up=up, down=down, padding=pad, groups=groups, flip_weight=flip_weight)
    want = _reference_conv2d_resample(x, w, f, up, down, pad, groups, flip_weight)
    assert got.shape == (2, 6, 8 * up // down, 8 * up // down)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_bias_act_lrelu_gain_and_clamp():
    x = torch.tensor([[-1.0, 0.5, 10.0]])
    y = bias_act(x, torch.tensor([0.0, 0.5, 0.0]), dim=1, act="lrelu", clamp=5.0)
    s2 = math.sqrt(2)
    assert torch.allclose(y, torch.tensor([[-0.2 * s2, 1.0 * s2, 5.0]]))
    assert torch.equal(bias_act(x), x)  # linear, gain 1, no clamp
