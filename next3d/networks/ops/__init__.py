"""Low-level StyleGAN2 operators written with plain PyTorch ops (no custom CUDA, torch.compile friendly)."""

from next3d.networks.ops.bias_act import ACTIVATIONS, bias_act
from next3d.networks.ops.conv2d_resample import conv2d_resample
from next3d.networks.ops.upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d

__all__ = [
    "ACTIVATIONS",
    "bias_act",
    "conv2d_resample",
    "downsample2d",
    "filter2d",
    "setup_filter",
    "upfirdn2d",
    "upsample2d",
]
