"""At the paper sizes our modules carry the official Next3D parameter names and shapes (docs/official_layout.md),
so a state dict taken from `next3d_ffhq_512.pkl` maps onto them key for key."""

from __future__ import annotations

import pytest
import torch

from next3d.networks import (
    DecoderConfig,
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

# Official G_ema key (relative to the generator) -> shape, from docs/official_layout.md.
OFFICIAL_SHAPES = {
    "backbone.mapping.embed.weight": (512, 25),
    "backbone.mapping.fc0.weight": (512, 1024),
    "backbone.mapping.fc1.bias": (512,),
    "backbone.mapping.w_avg": (512,),
    "backbone.synthesis.b4.const": (512, 4, 4),
    "backbone.synthesis.b4.conv1.affine.weight": (512, 512),
    "backbone.synthesis.b8.conv0.affine.bias": (512,),
    "backbone.synthesis.b8.conv0.noise_const": (8, 8),
    "backbone.synthesis.b8.conv0.noise_strength": (),
    "backbone.synthesis.b8.conv0.resample_filter": (4, 4),
    "backbone.synthesis.b128.conv0.weight": (256, 512, 3, 3),
    "backbone.synthesis.b256.conv1.weight": (128, 128, 3, 3),
    "backbone.synthesis.b256.torgb.weight": (96, 128, 1, 1),
    "backbone.synthesis.b256.torgb.affine.weight": (128, 512),
    "texture_backbone.synthesis.b256.torgb.weight": (32, 128, 1, 1),
    "texture_backbone.synthesis.b256.torgb.bias": (32,),
    "mouth_backbone.synthesis.encoder.0.fromrgb.weight": (512, 32, 1, 1),
    "mouth_backbone.synthesis.encoder.0.conv2.weight": (512, 512, 3, 3),
    "mouth_backbone.synthesis.encoder.3.resample_filter": (4, 4),
    "mouth_backbone.synthesis.fusion.0.weight": (512, 512, 3, 3),
    "mouth_backbone.synthesis.fusion.3.weight": (512, 1024, 3, 3),
    "mouth_backbone.synthesis.b8.conv0.weight": (512, 512, 3, 3),
    "mouth_backbone.synthesis.b256.torgb.weight": (32, 128, 1, 1),
    "neural_blending.synthesis.encoder.0.fromrgb.weight": (128, 32, 1, 1),
    "neural_blending.synthesis.encoder.0.conv2.weight": (256, 128, 3, 3),
    "neural_blending.synthesis.encoder.2.conv2.weight": (512, 512, 3, 3),
    "neural_blending.synthesis.fusion.0.weight": (512, 512, 3, 3),
    "neural_blending.synthesis.fusion.2.weight": (256, 512, 3, 3),
    "neural_blending.synthesis.b64.conv0.weight": (512, 512, 3, 3),
    "neural_blending.synthesis.b128.conv0.weight": (256, 512, 3, 3),
    "superresolution.block0.conv0.weight": (256, 32, 3, 3),
    "superresolution.block0.conv0.affine.weight": (32, 512),
    "superresolution.block0.torgb.weight": (3, 256, 1, 1),
    "superresolution.block1.conv1.noise_const": (512, 512),
    "superresolution.block1.torgb.weight": (3, 128, 1, 1),
    "decoder.net.0.weight": (64, 32),
    "decoder.net.2.weight": (33, 64),
}
# Official tensors whose modules the official forward never runs (not built here; the importer skips them).
OFFICIAL_UNUSED = {
    "mouth_backbone.synthesis.b4.const": (512, 4, 4),
    "mouth_backbone.synthesis.fusion.4.weight": (512, 1024, 3, 3),
    "neural_blending.synthesis.b32.conv1.weight": (512, 512, 3, 3),
    "neural_blending.synthesis.fusion.3.weight": (128, 256, 3, 3),
    "texture_backbone.mapping.fc0.weight": (512, 1024),
}


def _paper_generator_parts() -> torch.nn.ModuleDict:
    """Our sub-networks at the paper sizes, placed at the official attribute paths."""
    def holder(**children):
        m = torch.nn.Module()
        for k, v in children.items():
            m.add_module(k, v)
        return m

    with torch.device("meta"):
        return torch.nn.ModuleDict({
            "backbone": holder(mapping=MappingNetwork(MappingConfig(num_ws=28)),
                               synthesis=SynthesisNetwork(SynthesisConfig(img_channels=96))),
            "texture_backbone": holder(synthesis=SynthesisNetwork(SynthesisConfig(img_channels=32))),
            "mouth_backbone": holder(synthesis=StyleUNet(StyleUNetConfig(in_size=64, final_size=4, num_cond_res=64))),
            "neural_blending": holder(synthesis=StyleUNet(StyleUNetConfig(in_size=256, final_size=32, num_cond_res=256))),
            "superresolution": SuperResolution(SuperResolutionConfig.official("SuperresolutionHybrid8XDC")),
            "decoder": OSGDecoder(DecoderConfig()),
        })


@pytest.fixture(scope="module")
def paper_shapes() -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in _paper_generator_parts().state_dict().items()}


def test_representative_official_keys_and_shapes(paper_shapes):
    for key, shape in OFFICIAL_SHAPES.items():
        assert paper_shapes.get(key) == shape, key
    assert not set(OFFICIAL_UNUSED) & set(paper_shapes)


def test_parameter_count_with_the_unbuilt_official_modules_is_the_published_one():
    parts = _paper_generator_parts()
    ours = sum(p.numel() for p in parts.parameters())
    with torch.device("meta"):
        unused_mappings = 3 * sum(p.numel() for p in MappingNetwork(MappingConfig(num_ws=14)).parameters())
        mouth_b4 = sum(p.numel() for p in SynthesisNetwork(SynthesisConfig(img_resolution=4, img_channels=32)).parameters())
        blend_b4_to_b32 = sum(p.numel() for p in SynthesisNetwork(SynthesisConfig(img_resolution=32, img_channels=32)).parameters())
    unused_fusions = 512 * 1024 * 9 + 512 + 128 * 256 * 9 + 128
    total = ours + unused_mappings + mouth_b4 + blend_b4_to_b32 + unused_fusions
    assert round(total / 1e6, 1) == 172.8  # REFERENCE.md: official Next3D generator parameter count
    assert round((ours - sum(p.numel() for n, p in parts.named_parameters() if n.split(".")[0] in
                         ("texture_backbone", "mouth_backbone", "neural_blending"))) / 1e6, 1) == 30.7  # EG3D
