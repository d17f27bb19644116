"""Dual discriminator: logits, camera conditioning, minibatch std-dev, raw-image resizing."""

from __future__ import annotations

import pytest
import torch

from next3d.networks.discriminator import DiscriminatorConfig, DualDiscriminator, filtered_resizing
from next3d.networks.discriminator_block import MinibatchStdLayer
from next3d.networks.ops import setup_filter

TINY = DiscriminatorConfig(c_dim=25, img_resolution=32, channel_base=256, channel_max=16, num_fp16_res=2,
                           mbstd_group_size=2, mapping_num_layers=2)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 3, 32, 32, generator=g), torch.randn(4, 3, 8, 8, generator=g), torch.randn(4, 25, generator=g)


def test_logits_and_structure():
    torch.manual_seed(0)
    d = DualDiscriminator(TINY)
    assert d.block_resolutions == [32, 16, 8]
    assert d.b32.fromrgb.weight.shape[1] == 6  # image + upsampled raw image
    img, raw, c = _inputs()
    assert d(img, raw, c).shape == (4, 1)


def test_camera_and_raw_image_change_the_logits():
    torch.manual_seed(0)
    d = DualDiscriminator(TINY)
    img, raw, c = _inputs()
    base = d(img, raw, c)
    assert not torch.allclose(d(img, raw, c + 1.0), base)
    assert not torch.allclose(d(img, raw.flip(-1), c), base)


def test_c_noise_perturbs_without_touching_the_caller_label():
    torch.manual_seed(0)
    d = DualDiscriminator(DiscriminatorConfig(**{**TINY.__dict__, "disc_c_noise": 1.0}))
    img, raw, c = _inputs()
    keep = c.clone()
    assert not torch.equal(d(img, raw, c), d(img, raw, c))
    assert torch.equal(c, keep)


def test_minibatch_std_matches_a_direct_computation():
    x = torch.randn(4, 6, 3, 3)
    y = MinibatchStdLayer(group_size=2)(x)
    assert y.shape == (4, 7, 3, 3)
    # Groups are samples {0, 2} and {1, 3} (sample i joins group i % (N / G)).
    for members in ([0, 2], [1, 3]):
        std = x[members].std(dim=0, unbiased=False).mean()
        torch.testing.assert_close(y[members, 6], std.expand(2, 3, 3), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="multiple"):
        MinibatchStdLayer(group_size=4)(torch.randn(6, 2, 2, 2))


@pytest.mark.parametrize("mode", ["antialiased", "classic", "none", 0.5])
def test_filtered_resizing_keeps_constant_images_constant(mode):
    out = filtered_resizing(torch.full((1, 3, 8, 8), 0.3), 32, setup_filter([1, 3, 3, 1]), mode)
    assert out.shape == (1, 3, 32, 32)
    torch.testing.assert_close(out[..., 4:-4, 4:-4], torch.full_like(out[..., 4:-4, 4:-4], 0.3))


def test_paper_discriminator_layout():
    with torch.device("meta"):
        d = DualDiscriminator(DiscriminatorConfig())
    shapes = {k: tuple(v.shape) for k, v in d.state_dict().items()}
    assert shapes["b512.fromrgb.weight"] == (64, 6, 1, 1)
    assert shapes["b512.conv1.weight"] == (128, 64, 3, 3) and shapes["b512.skip.weight"] == (128, 64, 1, 1)
    assert shapes["mapping.embed.weight"] == (512, 25) and shapes["mapping.fc7.weight"] == (512, 512)
    assert shapes["b4.conv.weight"] == (512, 513, 3, 3) and shapes["b4.fc.weight"] == (512, 8192)
    assert shapes["b4.out.weight"] == (512, 512) and shapes["resample_filter"] == (4, 4)
    assert [r for r in d.block_resolutions if getattr(d, f"b{r}").use_fp16] == [512, 256, 128, 64]
