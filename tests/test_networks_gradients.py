"""One generator step and one discriminator step reach every parameter of every sub-network."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from next3d.networks import (
    DecoderConfig,
    DiscriminatorConfig,
    DualDiscriminator,
    MappingConfig,
    MappingNetwork,
    OSGDecoder,
    StyleUNet,
    StyleUNetConfig,
    SuperResolution,
    SuperResolutionConfig,
    SynthesisConfig,
    SynthesisNetwork,
)

W = 16


def _tiny_generator_parts() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    syn = dict(w_dim=W, img_resolution=32, channel_base=256, channel_max=16)
    texture = SynthesisNetwork(SynthesisConfig(img_channels=4, **syn))
    unet = dict(w_dim=W, img_resolution=32, img_channels=4, cond_channels=4, channel_base=256, channel_max=16)
    return {
        "mapping": MappingNetwork(MappingConfig(z_dim=W, c_dim=25, w_dim=W, num_ws=2 * texture.num_ws)),
        "texture_backbone": texture,
        "backbone": SynthesisNetwork(SynthesisConfig(img_channels=12, **syn)),
        "mouth_backbone": StyleUNet(StyleUNetConfig(in_size=16, final_size=4, num_cond_res=16, **unet)),
        "neural_blending": StyleUNet(StyleUNetConfig(in_size=32, final_size=8, num_cond_res=32, **unet)),
        "decoder": OSGDecoder(DecoderConfig(n_features=4, hidden_dim=8, output_dim=6)),
        "superresolution": SuperResolution(SuperResolutionConfig(channels=6, img_resolution=32, block_channels=(8, 4), w_dim=W)),
    }


def _assert_all_parameters_have_gradients(modules: dict[str, torch.nn.Module]) -> None:
    missing = [f"{name}.{p_name}" for name, m in modules.items() for p_name, p in m.named_parameters()
               if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reached: {missing}"


def test_generator_step_reaches_every_parameter():
    g = _tiny_generator_parts()
    z, c = torch.randn(2, W), torch.randn(2, 25)
    ws = g["mapping"](z, c)
    n = g["texture_backbone"].num_ws
    eg3d_ws, texture_ws = ws[:, :n], ws[:, n:]
    texture = g["texture_backbone"](texture_ws)  # (2, 4, 32, 32)
    static = g["backbone"](eg3d_ws)  # (2, 12, 32, 32) = 3 planes x 4
    mouth = g["mouth_backbone"](F.interpolate(texture, size=16, mode="bilinear"), eg3d_ws)
    front = g["neural_blending"](texture + mouth, eg3d_ws)
    planes = torch.cat([front, static[:, 4:]], dim=1).reshape(2, 3, 4, 32 * 32).transpose(2, 3)  # (B, 3, N, C)
    decoded = g["decoder"](planes[:, :, ::16])  # 64 sample points
    feature_image = decoded.features.transpose(1, 2).reshape(2, 6, 8, 8) * 2 - 1
    image = g["superresolution"](feature_image[:, :3], feature_image, eg3d_ws, noise_mode="random")
    (image.sum() + decoded.sigma.sum() + static.sum()).backward()
    _assert_all_parameters_have_gradients(g)


def test_discriminator_step_reaches_every_parameter():
    torch.manual_seed(0)
    d = DualDiscriminator(DiscriminatorConfig(img_resolution=32, channel_base=256, channel_max=16, mbstd_group_size=2,
                                              mapping_num_layers=2))
    logits = d(torch.randn(4, 3, 32, 32), torch.randn(4, 3, 8, 8), torch.randn(4, 25))
    logits.sum().backward()
    _assert_all_parameters_have_gradients({"D": d})
