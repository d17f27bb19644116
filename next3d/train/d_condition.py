"""What the discriminator is conditioned on: the camera label (EG3D, Next3D), optionally followed by the
image's expression and jaw pose (an expression-conditioned D, as in OmniAvatar), and optionally an image
channel: where the mouth is open (`MouthMask`).

With the camera alone, D cannot tell a closed mouth under an open jaw from a real closed mouth, so nothing
makes G render the expression it is given; with the expression in the label, or the mouth opening drawn
where it must show, it can, and G must follow.
"""

from __future__ import annotations

import torch

from next3d.errors import BadInputError
from next3d.head.params import sizes_for
from next3d.train.mouth_mask import MouthMask

CAMERA_LABEL_DIM = 25


class DiscriminatorCondition:
    """(camera labels (B, 25), head vectors (B, D) or None) -> D's label (B, dim); `image` -> its condition
    image (B, image_channels, R, R) or None."""

    def __init__(self, head, with_expression: bool, mouth_mask_resolution: int | None = None):
        self.with_expression = with_expression
        self.mouth_mask = None if mouth_mask_resolution is None else MouthMask(head, mouth_mask_resolution)
        sizes = sizes_for(head)
        # In HeadParams.to_vector order, expression coefficients (E) are followed directly by the jaw (3).
        self.start = sizes["shape"]
        self.stop = self.start + sizes["expression"] + sizes["jaw"]

    @property
    def dim(self) -> int:
        return CAMERA_LABEL_DIM + (self.stop - self.start if self.with_expression else 0)

    @property
    def image_channels(self) -> int:
        return 0 if self.mouth_mask is None else 1

    def image(self, camera: torch.Tensor, head: torch.Tensor | None) -> torch.Tensor | None:
        """The mouth-opening mask (B, 1, R, R) in [-1, 1] for D's extra input channel, or None without one."""
        return None if self.mouth_mask is None else self.mouth_mask(camera, head)

    def __call__(self, camera: torch.Tensor, head: torch.Tensor | None) -> torch.Tensor:
        if not self.with_expression:
            return camera
        if head is None or head.ndim != 2:
            raise BadInputError("the expression-conditioned discriminator needs head parameter vectors per image "
                                "(a dataset made by `dataset synth` or with head parameters), not "
                                f"{'none' if head is None else 'vertices'}")
        return torch.cat([camera, head[:, self.start:self.stop].to(camera.dtype)], dim=1)
