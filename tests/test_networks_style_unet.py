"""StyleUNet (mouth and neural-blending nets): shapes, official w-row use, conditioning, unbuilt official modules."""

from __future__ import annotations

import pytest
import torch

from next3d.networks.style_unet import StyleUNet, StyleUNetConfig

# Same shape relations as the paper nets, 8x smaller: mouth 16 -> 32 (final 4), blending 32 -> 32 (final 8).
MOUTH = StyleUNetConfig(w_dim=16, img_resolution=32, img_channels=4, cond_channels=4, in_size=16, final_size=4,
                        num_cond_res=16, channel_base=256, channel_max=16)
BLEND = StyleUNetConfig(**{**MOUTH.__dict__, "in_size": 32, "final_size": 8, "num_cond_res": 32})


def _net(config, seed=0):
    torch.manual_seed(seed)
    return StyleUNet(config)


def _inputs(net, seed=1):
    g = torch.Generator().manual_seed(seed)
    c = net.config
    return torch.randn(2, c.cond_channels, c.in_size, c.in_size, generator=g), torch.randn(2, net.num_ws, c.w_dim, generator=g)


@pytest.mark.parametrize("config,blocks,unbuilt", [
    (MOUTH, [8, 16, 32], ["b4", "fusion.2"]),
    (BLEND, [16, 32], ["b4", "b8", "fusion.2"]),
])
def test_structure_and_output_shape(config, blocks, unbuilt):
    net = _net(config)
    assert net.block_resolutions == blocks
    assert net.num_ws == 8  # rows of a full 32x32 synthesis network
    assert net.unbuilt_official_modules() == unbuilt
    cond, ws = _inputs(net)
    assert net(cond, ws, noise_mode="const").shape == (2, 4, 32, 32)


def test_paper_sizes_follow_the_official_layout():
    with torch.device("meta"):
        mouth = StyleUNet(StyleUNetConfig(in_size=64, final_size=4, num_cond_res=64))
        blend = StyleUNet(StyleUNetConfig(in_size=256, final_size=32, num_cond_res=256))
    assert len(mouth.w_rows) == 18 and len(blend.w_rows) == 9  # AvatarMMC: mouth 18, blending 9 styles
    assert mouth.unbuilt_official_modules() == ["b4", "fusion.4"]
    assert blend.unbuilt_official_modules() == ["b4", "b8", "b16", "b32", "fusion.3"]
    assert blend.w_rows["b64.conv0"] == 7 and blend.w_rows["b256.torgb"] == 13


def test_unused_rows_do_not_matter_and_used_rows_do():
    net = _net(MOUTH)
    cond, ws = _inputs(net)
    out = net(cond, ws, noise_mode="const")
    ws_row0 = ws.clone()
    ws_row0[:, 0] += 3.0  # row 0 feeds only b4.conv1, which the official forward never runs
    assert torch.equal(net(cond, ws_row0, noise_mode="const"), out)
    ws_last = ws.clone()
    ws_last[:, -1] += 3.0
    assert not torch.allclose(net(cond, ws_last, noise_mode="const"), out)


def test_condition_image_drives_the_output_and_styles_can_be_cached():
    net = _net(BLEND)
    cond, ws = _inputs(net)
    styles = net.styles(ws)
    out = net.synthesize(cond, styles, noise_mode="const")
    assert torch.equal(out, net(cond, ws, noise_mode="const"))
    assert not torch.allclose(net.synthesize(cond.flip(-1), styles, noise_mode="const"), out)


def test_invalid_sizes_are_rejected():
    with pytest.raises(ValueError, match="num_cond_res"):
        StyleUNet(StyleUNetConfig(**{**MOUTH.__dict__, "num_cond_res": 4}))
    with pytest.raises(ValueError, match="cond must be"):
        net = _net(MOUTH)
        net(torch.randn(1, 4, 8, 8), torch.randn(1, net.num_ws, 16))
