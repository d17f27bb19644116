"""2-D convolution fused with FIR up- or downsampling (StyleGAN2's `conv2d_resample` semantics).

Reference meaning: zero-insert upsample by `up`, pad, FIR-filter (gain up**2), convolve with `w`,
FIR-filter and decimate by `down`; all padding is applied once, at the start. The implementation
uses a strided transposed convolution for upsampling and a strided convolution for downsampling,
which compute the same linear map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from next3d.networks.ops.upfirdn2d import Padding, _pads, filter_size, upfirdn2d


def _transposed_weight(w: torch.Tensor, groups: int) -> torch.Tensor:
    """(O, I/g, kh, kw) conv weight -> (I, O/g, kh, kw) transposed-conv weight for the same groups."""
    out_channels, in_per_group, kh, kw = w.shape
    w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
    return w.reshape(groups * in_per_group, out_channels // groups, kh, kw)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    groups: int = 1,
    flip_weight: bool = True,
    flip_filter: bool = False,
) -> torch.Tensor:
    """Convolve (B, I, H, W) with `w` (O, I/groups, kh, kw), upsampling or downsampling by FIR filter `f`.

    `padding` is relative to the upsampled image; `flip_weight=True` is correlation (like `F.conv2d`),
    False a true convolution.
    """
    if up < 1 or down < 1:
        raise ValueError(f"up and down must be >= 1, got up={up}, down={down}")
    _, _, kh, kw = w.shape
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = _pads(padding)
    if up > 1:
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
    if down > 1:
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
        py0, py1 = py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2

    if up > 1:
        # Zero insertion followed by a correlation with w equals a stride-`up` transposed convolution
        # with the mirrored kernel, whose output starts k-1 samples early and ends k-up samples late.
        kernel = w.flip([2, 3]) if flip_weight else w
        x = F.conv_transpose2d(x, _transposed_weight(kernel, groups), stride=up, groups=groups)
        pads = [px0 - (kw - 1), px1 - (kw - up), py0 - (kh - 1), py1 - (kh - up)]
        x = upfirdn2d(x, f, padding=pads, gain=up**2, flip_filter=flip_filter)
        if down > 1:
            x = upfirdn2d(x, f, down=down, flip_filter=flip_filter)
        return x

    kernel = w if flip_weight else w.flip([2, 3])
    if down > 1:
        x = upfirdn2d(x, f, padding=[px0, px1, py0, py1], flip_filter=flip_filter)
        return F.conv2d(x, kernel, stride=down, groups=groups)
    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return F.conv2d(x, kernel, padding=(py0, px0), groups=groups)
    return F.conv2d(F.pad(x, [px0, px1, py0, py1]), kernel, groups=groups)
