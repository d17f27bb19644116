"""OSG decoder: plane averaging, raw density, widened-sigmoid features, official parameter names."""

from __future__ import annotations

import math

import torch

from next3d.networks.decoder import DecoderConfig, OSGDecoder


def test_decoder_outputs_and_formula():
    torch.manual_seed(0)
    dec = OSGDecoder(DecoderConfig(n_features=8, hidden_dim=16, output_dim=5, lr_multiplier=0.5))
    feats = torch.randn(2, 3, 7, 8)  # (B, planes, N, C)
    out = dec(feats)
    assert out.sigma.shape == (2, 7, 1) and out.features.shape == (2, 7, 5)
    fc0, fc1 = dec.net[0], dec.net[2]
    h = torch.nn.functional.softplus(feats.mean(1) @ (fc0.weight * 0.5 / math.sqrt(8)).t() + fc0.bias * 0.5)
    raw = h @ (fc1.weight * 0.5 / math.sqrt(16)).t() + fc1.bias * 0.5
    torch.testing.assert_close(out.sigma, raw[..., :1])
    torch.testing.assert_close(out.features, torch.sigmoid(raw[..., 1:]) * 1.002 - 0.001)
    assert out.features.min() > -0.001 and out.features.max() < 1.001


def test_decoder_averages_planes():
    dec = OSGDecoder(DecoderConfig(n_features=4, hidden_dim=8, output_dim=3))
    a = torch.randn(1, 3, 5, 4)
    b = a[:, [2, 0, 1]]  # plane order does not matter, only their mean
    torch.testing.assert_close(dec(a).sigma, dec(b).sigma)


def test_official_names_and_shapes():
    shapes = {k: tuple(v.shape) for k, v in OSGDecoder(DecoderConfig()).state_dict().items()}
    assert shapes == {"net.0.weight": (64, 32), "net.0.bias": (64,), "net.2.weight": (33, 64), "net.2.bias": (33,)}
