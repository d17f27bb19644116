"""Every learnable sub-network of the Next3D generator and its dual discriminator, mirroring the official
parameter layout (see docs/official_layout.md)."""

from next3d.networks.backbone import StyleGAN2Backbone
from next3d.networks.decoder import DecodedSamples, DecoderConfig, OSGDecoder
from next3d.networks.discriminator import DiscriminatorConfig, DualDiscriminator
from next3d.networks.mapping import MappingConfig, MappingNetwork
from next3d.networks.precision import set_reduced_precision
from next3d.networks.style_unet import StyleUNet, StyleUNetConfig
from next3d.networks.superresolution import SuperResolution, SuperResolutionConfig
from next3d.networks.synthesis import SynthesisConfig, SynthesisNetwork

__all__ = [
    "DecodedSamples",
    "DecoderConfig",
    "DiscriminatorConfig",
    "DualDiscriminator",
    "MappingConfig",
    "MappingNetwork",
    "OSGDecoder",
    "StyleGAN2Backbone",
    "StyleUNet",
    "StyleUNetConfig",
    "SuperResolution",
    "SuperResolutionConfig",
    "SynthesisConfig",
    "SynthesisNetwork",
    "set_reduced_precision",
]
