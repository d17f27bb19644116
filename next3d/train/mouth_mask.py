"""The mouth opening as a picture: the head's inner lip contour projected by the image's camera and filled.

Given to D as an extra input channel (`train --d-mouth-mask`), it tells D *where* the mouth must be open in
this image. A closed mouth inside a filled contour, or teeth where the contour is empty, then looks fake,
so G must open the mouth where the jaw opens it. A spatial hint is far easier for D to use than the
jaw angle in its label (`--d-expression`), which it has to map to image positions itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from next3d.errors import BadInputError
from next3d.head import HeadParams
from next3d.raster.fill import fill_polygon
from next3d.render import camera

SUPERSAMPLE = 2  # contour filled at 2x and box-filtered: soft edges, no stair-step aliasing


class MouthMask:
    """(camera labels (B, 25), head vectors (B, D) or native vertices (B, V, 3)) -> (B, 1, R, R) in [-1, 1]:
    +1 inside the projected inner lip contour, -1 outside."""

    def __init__(self, head, resolution: int):
        self.head = head
        self.resolution = resolution

    @torch.no_grad()
    def __call__(self, labels: torch.Tensor, head_state: torch.Tensor | None) -> torch.Tensor:
        if head_state is None or head_state.ndim not in (2, 3):
            raise BadInputError("the mouth-mask discriminator needs head parameters or vertices per image "
                                "(a dataset made by `dataset synth` or with head data), not none")
        head = self.head.to(labels.device)
        if head_state.ndim == 2:
            landmarks = head(HeadParams.from_vector(head_state.float(), head), check_values=False).landmarks
        else:
            landmarks = head.landmarks_from(head_state.float())
        lips = head.to_world(landmarks[:, head.lip_inner])  # (B, Li, 3) world units
        labels = labels.float()  # (B, 25): cam-to-world 4x4, then intrinsics 3x3 (checked where they were read)
        cam2world, intrinsics = labels[:, :16].reshape(-1, 4, 4), labels[:, 16:].reshape(-1, 3, 3)
        uv, _ = camera.project(lips, cam2world, intrinsics)  # [0, 1], (0, 0) = top-left corner
        inside = fill_polygon(uv * 2 - 1, self.resolution * SUPERSAMPLE)[:, None].float()
        return F.avg_pool2d(inside, SUPERSAMPLE) * 2 - 1
