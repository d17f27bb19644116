"""The Triton FIR kernel agrees with the PyTorch reference `upfirdn2d` (GPU only), and is used only where it
applies: CUDA tensors without autograd, inside `use_kernel`."""

import pytest
import torch

from next3d.head import HeadParams, load_default_head
from next3d.networks.generator import Next3DGenerator
from next3d.networks.inference import InferenceGenerator, InferenceMode
from next3d.networks.ops import fir_kernel, setup_filter, upfirdn2d
from next3d.networks.ops.upfirdn2d import use_kernel
from next3d.networks.presets import preset_config
from next3d.render import camera

gpu = pytest.mark.skipif(not fir_kernel.available(), reason="needs CUDA and Triton")

# Relative to the output's largest magnitude. fp32: both accumulate 16 products in fp32 (only the order
# differs). fp16/bf16: the reference rounds the taps to the input dtype and may accumulate in it; the kernel
# keeps fp32 taps and an fp32 accumulator, so the bound is one or two output roundings (2^-11, 2^-8).
REL_TOL = {torch.float32: 1e-6, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}

CASES = [  # (up, down, padding (x0, x1, y0, y1), taps): the generator's and discriminator's uses and odd ones
    (1, 1, (1, 1, 1, 1), [1, 3, 3, 1]),  # after a transposed convolution (padding as conv2d_resample computes)
    (2, 1, (2, 1, 2, 1), [1, 3, 3, 1]),  # upsample2d of the RGB skip
    (1, 2, (1, 1, 1, 1), [1, 3, 3, 1]),  # downsample2d
    (1, 1, (-1, -1, -1, -1), [1, 3, 3, 1]),  # negative padding crops
    (3, 2, (0, 3, 1, 2), [1, 2, 1]),  # odd up/down and asymmetric padding
    (1, 1, (0, 0, 0, 0), None),  # identity filter
]


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("up, down, padding, taps", CASES)
def test_kernel_matches_reference(up, down, padding, taps, dtype):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 37, 70, device="cuda").to(dtype)  # sizes not multiples of the tile
    f = None if taps is None else setup_filter(taps, device="cuda")
    ref = upfirdn2d(x, f, up=up, down=down, padding=padding, gain=up * up)
    with use_kernel(), torch.no_grad():
        out = upfirdn2d(x, f, up=up, down=down, padding=padding, gain=up * up)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    err = (out.float() - ref.float()).abs().max() / ref.float().abs().max()
    assert err <= REL_TOL[dtype], f"relative error {err:.2e}"


@gpu
@pytest.mark.gpu
def test_large_planes_and_flipped_asymmetric_filter():
    """A super-resolution-sized input (128 ch, 260^2, fp16) and a 2-D filter that is not symmetric."""
    torch.manual_seed(1)
    x = torch.randn(1, 128, 260, 260, device="cuda", dtype=torch.float16)
    f = torch.rand(3, 4, device="cuda")
    for flip in (False, True):
        ref = upfirdn2d(x, f, padding=(2, 1, 1, 1), flip_filter=flip, gain=4)
        with use_kernel():
            out = upfirdn2d(x, f, padding=(2, 1, 1, 1), flip_filter=flip, gain=4)
        assert ((out.float() - ref.float()).abs().max() / ref.float().abs().max()) <= REL_TOL[torch.float16]


@gpu
@pytest.mark.gpu
def test_autograd_inputs_keep_the_differentiable_reference():
    x = torch.randn(1, 3, 16, 16, device="cuda", requires_grad=True)
    with use_kernel():
        y = upfirdn2d(x, setup_filter([1, 3, 3, 1], device="cuda"), padding=1)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@gpu
@pytest.mark.gpu
def test_generator_with_kernels_matches_fp32_reference():
    """The paper generator's image with the kernel equals the reference path's within fp32 rounding (no TF32)."""
    torch.manual_seed(0)
    head = load_default_head()
    G = Next3DGenerator(preset_config("paper"), head).eval().requires_grad_(False).cuda()
    c = camera.make_label(camera.orbit_pose(0.3, -0.1)).cuda()
    hp = HeadParams.neutral(head, 1, device="cuda")
    hp.jaw[:, 0] = 0.2
    ws = G.mapping(torch.randn(1, G.z_dim, device="cuda"), c)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    with torch.no_grad():
        ref = InferenceGenerator(G, "fp32").synthesis(ws, c, hp)
        out = InferenceGenerator(G, InferenceMode(kernels=True)).synthesis(ws, c, hp)
    for name in ("image", "image_raw"):
        diff = (getattr(out, name) - getattr(ref, name)).abs()
        # The fp16 super-resolution blocks (official setting) round the two paths' small differences apart.
        assert diff.mean() < 1e-3 and diff.max() < 2e-2, f"{name}: mean {diff.mean():.2e} max {diff.max():.2e}"
