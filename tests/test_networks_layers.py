"""Equalized-lr layers and the modulated convolution: the fused path equals the plain path and the per-sample definition."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from next3d.networks.conv2d_layer import Conv2dLayer
from next3d.networks.fully_connected import FullyConnectedLayer
from next3d.networks.modulated_conv import modulated_conv2d
from next3d.networks.ops import conv2d_resample, setup_filter
from next3d.networks.synthesis_layer import SynthesisLayer, ToRGBLayer

# Fused (grouped conv) vs plain (scale activations) differ only by float32 rounding order.
FUSED_VS_PLAIN_TOL = dict(atol=2e-5, rtol=1e-4)


def test_fully_connected_applies_lr_multiplier_at_run_time():
    torch.manual_seed(0)
    fc = FullyConnectedLayer(8, 4, lr_multiplier=0.01, bias_init=0.5)
    x = torch.randn(3, 8)
    want = x @ (fc.weight * 0.01 / math.sqrt(8)).t() + 0.5 * 0.01
    torch.testing.assert_close(fc(x), want)
    assert fc.weight.std() > 20  # stored weights are N(0, 1) / lr_multiplier


def test_conv2d_layer_resampling_shapes():
    x = torch.randn(2, 4, 8, 8)
    assert Conv2dLayer(4, 6, 3, down=2, activation="lrelu")(x).shape == (2, 6, 4, 4)
    assert Conv2dLayer(4, 6, 1, up=2, bias=False)(x).shape == (2, 6, 16, 16)


def _per_sample_definition(x, weight, styles, demodulate, up, f, noise):
    """Modulated conv written out for one sample at a time."""
    outs = []
    for b in range(x.shape[0]):
        w = weight * styles[b].reshape(1, -1, 1, 1)
        if demodulate:
            w = w * (w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).rsqrt()
        xb = x[b : b + 1]
        if up == 1:
            outs.append(F.conv2d(xb, w, padding=weight.shape[-1] // 2))
        else:
            outs.append(conv2d_resample(xb, w, f, up=up, padding=weight.shape[-1] // 2, flip_weight=False))
    y = torch.cat(outs)
    return y if noise is None else y + noise


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("demodulate", [True, False])
def test_fused_and_plain_modconv_agree_with_the_definition(up, demodulate):
    torch.manual_seed(1)
    x = torch.randn(3, 5, 8, 8)
    weight = torch.randn(7, 5, 3, 3)
    styles = torch.randn(3, 5) + 1
    noise = torch.randn(3, 1, 8 * up, 8 * up)
    f = setup_filter([1, 3, 3, 1])
    common = dict(noise=noise, up=up, padding=1, resample_filter=f, demodulate=demodulate, flip_weight=up == 1)
    fused = modulated_conv2d(x, weight, styles, fused_modconv=True, **common)
    plain = modulated_conv2d(x, weight, styles, fused_modconv=False, **common)
    torch.testing.assert_close(fused, plain, **FUSED_VS_PLAIN_TOL)
    torch.testing.assert_close(fused, _per_sample_definition(x, weight, styles, demodulate, up, f, noise), **FUSED_VS_PLAIN_TOL)


def test_demodulated_output_has_unit_scale_per_output_channel():
    # With unit-variance inputs, demodulation keeps each output channel's variance near 1 whatever the style scale.
    torch.manual_seed(2)
    x = torch.randn(2, 64, 16, 16)
    y = modulated_conv2d(x, torch.randn(8, 64, 3, 3), torch.rand(2, 64) * 100, padding=1)
    assert 0.7 < y.std().item() < 1.3


def test_modconv_rejects_wrong_style_shape():
    with pytest.raises(ValueError, match="styles"):
        modulated_conv2d(torch.randn(2, 4, 4, 4), torch.randn(3, 4, 1, 1), torch.randn(2, 5))


@pytest.mark.gpu
def test_fp16_modconv_matches_fp32_on_cuda():
    torch.manual_seed(3)
    x = torch.randn(4, 64, 32, 32, device="cuda")
    weight = torch.randn(64, 64, 3, 3, device="cuda")
    styles = torch.randn(4, 64, device="cuda") * 10
    ref = modulated_conv2d(x, weight, styles, padding=1)
    for fused in (True, False):
        half = modulated_conv2d(x.half(), weight, styles, padding=1, fused_modconv=fused)
        assert half.dtype == torch.float16
        torch.testing.assert_close(half.float(), ref, atol=2e-2, rtol=2e-2)


def test_conv_clamp_bounds_synthesis_and_torgb_outputs():
    torch.manual_seed(4)
    x, w = torch.randn(2, 4, 8, 8) * 10, torch.randn(2, 6)
    layer = SynthesisLayer(4, 5, w_dim=6, resolution=8, conv_clamp=0.1)
    y = layer(x, layer.style(w), noise_mode="none")
    assert y.abs().max() <= 0.1 + 1e-6 and (y.abs() == 0.1).any()
    y = layer(x, layer.style(w), noise_mode="none", gain=0.5)  # the clamp scales with the gain (resnet path)
    assert y.abs().max() <= 0.05 + 1e-6
    to_rgb = ToRGBLayer(4, 3, w_dim=6, conv_clamp=0.2)
    assert to_rgb(x, to_rgb.style(w)).abs().max() <= 0.2 + 1e-6
