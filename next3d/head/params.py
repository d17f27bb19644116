"""Head parameters: identity shape, expression and the five joint rotations, batched.

Rotations are axis-angle vectors in radians about the joints' rest positions; translation is in the head
model's native units, applied after skinning. Datasets store a batch as one flat vector per image in
exactly the field order of `FIELDS` (`to_vector` / `from_vector`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import TYPE_CHECKING

import torch

from next3d.errors import BadInputError

if TYPE_CHECKING:
    from next3d.head.model import HeadModel

FIELDS = ("shape", "expression", "jaw", "neck", "eyes", "rotation", "translation")
FIXED_SIZES = MappingProxyType({"jaw": 3, "neck": 3, "eyes": 6, "rotation": 3, "translation": 3})


@dataclass
class HeadParams:
    """One batch of head parameters; every field is a float tensor with the batch first."""

    shape: torch.Tensor        # (B, S) identity coefficients
    expression: torch.Tensor   # (B, E) expression coefficients
    jaw: torch.Tensor          # (B, 3) axis-angle; about +x with positive angle opens the mouth
    neck: torch.Tensor         # (B, 3) axis-angle of the head about the neck joint
    eyes: torch.Tensor         # (B, 6) left eye axis-angle, then right eye
    rotation: torch.Tensor     # (B, 3) global axis-angle about the root joint
    translation: torch.Tensor  # (B, 3) native units

    @classmethod
    def neutral(cls, head: HeadModel, batch: int = 1, device=None) -> HeadParams:
        """All zeros: the template head, mouth closed, looking ahead (on the head's device by default)."""
        device = head.v_template.device if device is None else device
        dtype = head.v_template.dtype

        def zeros(n: int) -> torch.Tensor:
            return torch.zeros(batch, n, device=device, dtype=dtype)

        return cls(shape=zeros(head.num_shape), expression=zeros(head.num_expression), jaw=zeros(3),
                   neck=zeros(3), eyes=zeros(6), rotation=zeros(3), translation=zeros(3))

    @property
    def batch_size(self) -> int:
        return int(self.shape.shape[0])

    def to_vector(self) -> torch.Tensor:
        """(B, S + E + 18): shape, expression, jaw, neck, eyes, rotation, translation, in that order."""
        return torch.cat([getattr(self, name) for name in FIELDS], dim=1)

    @classmethod
    def from_vector(cls, vec: torch.Tensor, head: HeadModel) -> HeadParams:
        """Split (B, S + E + 18) vectors (`to_vector` order) for `head`; a (S + E + 18,) vector is one item."""
        vec = torch.as_tensor(vec)
        if vec.ndim == 1:
            vec = vec[None]
        sizes = sizes_for(head)
        total = sum(sizes.values())
        if vec.ndim != 2 or vec.shape[1] != total:
            raise BadInputError(f"head params vector has shape {tuple(vec.shape)}, expected (B, {total}) for head "
                                f"'{head.name}' (shape {sizes['shape']} + expression {sizes['expression']} + 18)")
        if not vec.is_floating_point():
            vec = vec.float()
        parts = torch.split(vec, list(sizes.values()), dim=1)
        return cls(**dict(zip(FIELDS, parts)))

    def to(self, device=None, dtype=None) -> HeadParams:
        """Move (and optionally cast) every field."""
        return HeadParams(**{f.name: getattr(self, f.name).to(device=device, dtype=dtype) for f in fields(self)})

    def detach(self) -> HeadParams:
        return HeadParams(**{f.name: getattr(self, f.name).detach() for f in fields(self)})

    def clone(self) -> HeadParams:
        return HeadParams(**{f.name: getattr(self, f.name).clone() for f in fields(self)})

    def expand(self, batch: int) -> HeadParams:
        """A batch-1 state repeated (as views) to `batch` items; itself when it has `batch` items already."""
        if self.batch_size == batch:
            return self
        return HeadParams(**{f.name: getattr(self, f.name).expand(batch, -1) for f in fields(self)})

    def mirrored(self, head: HeadModel) -> HeadParams:
        """The parameters of the x-mirrored head (reflection in the plane x = 0).

        A rotation mirrored in x = 0 keeps its x axis component and negates y and z; the eyes swap; the
        coefficients move to their mirror partners (e.g. mouthSmileLeft <-> mouthSmileRight) with the signs
        stored in the head model; translation x is negated.
        """
        flip = torch.tensor([1.0, -1.0, -1.0], dtype=self.jaw.dtype, device=self.jaw.device)
        left, right = self.eyes[:, :3], self.eyes[:, 3:]
        return HeadParams(
            shape=self.shape[:, head.shape_mirror] * head.shape_mirror_sign.to(self.shape.dtype),
            expression=self.expression[:, head.expr_mirror] * head.expr_mirror_sign.to(self.expression.dtype),
            jaw=self.jaw * flip,
            neck=self.neck * flip,
            eyes=torch.cat([right * flip, left * flip], dim=1),
            rotation=self.rotation * flip,
            translation=self.translation * torch.tensor([-1.0, 1.0, 1.0], dtype=self.translation.dtype,
                                                        device=self.translation.device),
        )

    def validate(self, head: HeadModel, where: str = "head params", check_values: bool = True) -> None:
        """Check every field's shape (one batch size, the head's S and E), dtype and, unless `check_values` is
        False, finiteness (a device sync: skipped on hot paths such as CUDA-graph capture)."""
        sizes = sizes_for(head)
        batch = None
        for name in FIELDS:
            value = getattr(self, name)
            expected = sizes[name]
            if not isinstance(value, torch.Tensor):
                raise BadInputError(f"{where}: {name} is {type(value).__name__}, expected a tensor of shape "
                                    f"(B, {expected})")
            if value.ndim != 2 or value.shape[1] != expected:
                raise BadInputError(f"{where}: {name} has shape {tuple(value.shape)}, expected (B, {expected}) for "
                                    f"head '{head.name}'")
            if batch is not None and value.shape[0] != batch:
                raise BadInputError(f"{where}: {name} has batch size {value.shape[0]}, expected {batch} like shape "
                                    f"(every field is (B, n) with one B)")
            if not value.is_floating_point():
                raise BadInputError(f"{where}: {name} has dtype {value.dtype}, expected floating point")
            batch = int(value.shape[0])
        if check_values and not bool(torch.isfinite(torch.cat([getattr(self, n).detach().float() for n in FIELDS],
                                                               1)).all()):
            bad = next(n for n in FIELDS if not torch.isfinite(getattr(self, n)).all())  # one sync when all is well
            raise BadInputError(f"{where}: {bad} contains NaN or Inf")


def sizes_for(head: HeadModel) -> dict[str, int]:
    """Numbers per field for `head`, in `to_vector` order."""
    return {"shape": head.num_shape, "expression": head.num_expression, **FIXED_SIZES}
