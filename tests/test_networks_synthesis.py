"""Synthesis network: shapes, w-row routing, noise modes, cached styles, fused vs plain, bf16 regions."""

from __future__ import annotations

import pytest
import torch

from next3d.networks.precision import set_reduced_precision
from next3d.networks.synthesis import SynthesisConfig, SynthesisNetwork

TINY = SynthesisConfig(w_dim=16, img_resolution=32, img_channels=6, channel_base=256, channel_max=16)


def _net(config: SynthesisConfig = TINY, seed: int = 0) -> SynthesisNetwork:
    torch.manual_seed(seed)
    net = SynthesisNetwork(config)
    with torch.no_grad():  # official init leaves noise off; turn it on so noise modes matter
        for name, p in net.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)
    return net


def _ws(net: SynthesisNetwork, batch: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, net.num_ws, net.w_dim, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("architecture,num_ws", [("skip", 8), ("orig", 8), ("resnet", 8)])
def test_shapes_for_each_architecture(architecture, num_ws):
    net = _net(SynthesisConfig(**{**TINY.__dict__, "architecture": architecture}))
    assert net.num_ws == num_ws
    assert net(_ws(net), noise_mode="const").shape == (2, 6, 32, 32)
    assert hasattr(net.b32, "skip") == (architecture == "resnet")
    assert hasattr(net.b16, "torgb") == (architecture == "skip")


def test_paper_num_ws_is_14_at_256():
    with torch.device("meta"):
        assert SynthesisNetwork(SynthesisConfig(img_resolution=256, img_channels=96)).num_ws == 14


def test_w_rows_follow_stylegan2_routing():
    net = _net()
    assert net.w_rows["b4.conv1"] == 0 and net.w_rows["b4.torgb"] == 1 and net.w_rows["b8.conv0"] == 1
    assert net.w_rows["b32.torgb"] == net.num_ws - 1
    ws = _ws(net)
    ws2 = ws.clone()
    ws2[:, 3] += 1.0
    s1, s2 = net.styles(ws), net.styles(ws2)
    changed = {k for k in s1 if not torch.equal(s1[k], s2[k])}
    assert changed == {"b8.torgb", "b16.conv0"}


def test_fixed_seed_and_const_noise_are_deterministic():
    a, b = _net(seed=3), _net(seed=3)
    ws = _ws(a)
    assert torch.equal(a(ws, noise_mode="const"), b(ws, noise_mode="const"))
    assert not torch.equal(a(ws, noise_mode="random"), a(ws, noise_mode="random"))
    assert not torch.allclose(a(ws, noise_mode="none"), a(ws, noise_mode="const"))


def test_cached_styles_give_the_same_image():
    net = _net()
    ws = _ws(net)
    styles = net.styles(ws)
    assert len(styles) == 11  # b4: conv1, torgb; b8..b32: conv0, conv1, torgb
    assert torch.equal(net.synthesize(styles, noise_mode="const"), net(ws, noise_mode="const"))


def test_fused_and_plain_networks_agree():
    net = _net()
    ws = _ws(net)
    fused = net(ws, noise_mode="const", fused_modconv=True)
    plain = net(ws, noise_mode="const", fused_modconv=False)
    torch.testing.assert_close(fused, plain, atol=1e-4, rtol=1e-4)


def test_inference_only_fuses_in_eval_mode():
    net = _net(SynthesisConfig(**{**TINY.__dict__, "fused_modconv_default": "inference_only"}))
    ws = _ws(net)
    torch.testing.assert_close(net.train()(ws, noise_mode="const"), net.eval()(ws, noise_mode="const"), atol=1e-4, rtol=1e-4)


def test_bf16_region_stays_close_to_fp32_and_clamps():
    config = SynthesisConfig(**{**TINY.__dict__, "num_fp16_res": 2, "conv_clamp": 256})
    net = _net(config)
    assert [r for r in net.block_resolutions if getattr(net, f"b{r}").use_fp16] == [16, 32]
    ws = _ws(net)
    ref = net(ws, noise_mode="const")  # float16 blocks fall back to float32 on the CPU
    assert set_reduced_precision(net, torch.bfloat16) == 4
    low = net(ws, noise_mode="const")
    assert low.dtype == torch.float32
    # Stated tolerance (bfloat16 keeps 8 mantissa bits; measured ~0.8% / ~0.4%):
    # max error <= 2% of max |ref|, mean error <= 1% of mean |ref|.
    err = (low - ref).abs()
    assert err.max() <= 0.02 * ref.abs().max()
    assert err.mean() <= 0.01 * ref.abs().mean()
    assert not torch.equal(low, ref)
    torch.testing.assert_close(net(ws, noise_mode="const", force_fp32=True), ref)


@pytest.mark.gpu
def test_fp16_region_matches_fp32_on_cuda():
    config = SynthesisConfig(**{**TINY.__dict__, "num_fp16_res": 2, "conv_clamp": 256})
    net = _net(config).cuda()
    ws = _ws(net).cuda()
    ref = net(ws, noise_mode="const", force_fp32=True)
    for fused in (True, False):
        half = net(ws, noise_mode="const", fused_modconv=fused)
        err = (half - ref).abs()  # float16 has more mantissa than bfloat16: same bounds hold with margin
        assert err.max() <= 0.02 * ref.abs().max()
        assert err.mean() <= 0.01 * ref.abs().mean()
