"""Super-resolution: official variants' structure, shapes, last-row styles, resizing of the raw image."""

from __future__ import annotations

import pytest
import torch

from next3d.networks.superresolution import SuperResolution, SuperResolutionConfig

TINY = SuperResolutionConfig(channels=8, img_resolution=32, block_channels=(8, 4), w_dim=16, sr_num_fp16_res=0)


def _inputs(n, channels=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(2, channels, n, n, generator=g)
    return feats[:, :3], feats, torch.randn(2, 5, 16, generator=g)


@pytest.mark.parametrize("raw_res", [8, 4])
def test_output_shape_and_raw_resize(raw_res):
    torch.manual_seed(0)
    net = SuperResolution(TINY)
    assert net.input_resolution == 8
    rgb, feats, ws = _inputs(raw_res)
    assert net(rgb, feats, ws).shape == (2, 3, 32, 32)


def test_noup_variant_doubles_once():
    torch.manual_seed(0)
    net = SuperResolution(SuperResolutionConfig(**{**TINY.__dict__, "upsample_first": False}))
    assert net.input_resolution == 16 and net.block0.resolution == 16
    rgb, feats, ws = _inputs(16)
    assert net(rgb, feats, ws).shape == (2, 3, 32, 32)


def test_only_the_last_w_row_is_read():
    torch.manual_seed(0)
    net = SuperResolution(TINY)
    rgb, feats, ws = _inputs(8)
    out = net(rgb, feats, ws)
    other = ws.clone()
    other[:, :-1] = torch.randn_like(other[:, :-1])
    assert torch.equal(net(rgb, feats, other), out)
    assert len(net.styles(ws)) == 6


def test_official_variants_have_official_shapes():
    with torch.device("meta"):
        dc = SuperResolution(SuperResolutionConfig.official("training.superresolution.SuperresolutionHybrid8XDC"))
        x2 = SuperResolution(SuperResolutionConfig.official("SuperresolutionHybrid2X", sr_num_fp16_res=0))
    assert dc.block0.conv0.weight.shape == (256, 32, 3, 3) and dc.block1.conv1.weight.shape == (128, 128, 3, 3)
    assert dc.block1.torgb.weight.shape == (3, 128, 1, 1) and dc.block1.conv1.noise_const.shape == (512, 512)
    assert dc.block0.use_fp16 and dc.block0.conv0.conv_clamp == 256
    assert x2.input_resolution == 64 and x2.block0.up == 1 and x2.block1.conv0.weight.shape == (64, 128, 3, 3)
    with pytest.raises(ValueError, match="unknown super-resolution"):
        SuperResolutionConfig.official("SuperresolutionHybrid16X")
