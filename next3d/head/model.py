"""The head model: the schema held as buffers (so `.to(device)` moves it) and its skinning forward pass."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, fields

import torch

from next3d.head.lbs import axis_angle_to_matrix, blend_shapes, rigid_chain, skin_vertices
from next3d.head.params import HeadParams
from next3d.head.schema import HeadData

# HeadData fields that are names or scalars (module attributes); every other field is a tensor buffer.
_PLAIN_FIELDS = ("name", "shape_names", "expr_names", "joint_names", "landmark_names", "region_names",
                 "world_scale", "provenance")


@dataclass
class HeadOutput:
    """Posed geometry in the head model's native units."""

    vertices: torch.Tensor   # (B, V, 3)
    landmarks: torch.Tensor  # (B, L, 3)
    joints: torch.Tensor     # (B, 5, 3) posed joint positions


class HeadModel(torch.nn.Module):
    """A parametric head: template + shape/expression bases, 5-joint linear blend skinning, landmarks.

    Build it from a `HeadData` (see next3d/head/schema.py for every field's meaning and shape); load the
    built-in one with `next3d.head.load_default_head()`, a file with `HeadModel.load(path)`.
    """

    def __init__(self, data: HeadData, where: str | None = None):
        super().__init__()
        data.validate(where or f"head model '{data.name}'")
        self.name: str = data.name
        self.shape_names: list[str] = list(data.shape_names)
        self.expr_names: list[str] = list(data.expr_names)
        self.joint_names: list[str] = list(data.joint_names)
        self.landmark_names: list[str] = list(data.landmark_names)
        self.region_names: list[str] = list(data.region_names)
        self.world_scale: float = float(data.world_scale)
        self.provenance: dict[str, str] = dict(data.provenance)
        self._parents: tuple[int, ...] = tuple(int(p) for p in data.parents.tolist())
        self.has_vertex_mirror = data.vertex_mirror is not None
        for f in fields(HeadData):
            if f.name in _PLAIN_FIELDS:
                continue
            value = getattr(data, f.name)
            if value is None:
                value = torch.zeros(0, dtype=torch.long)
            value = value.detach().cpu()
            value = value.to(torch.float32) if value.is_floating_point() else value.to(torch.long)
            self.register_buffer(f.name, value.contiguous())

    # -- sizes ------------------------------------------------------------------------------------------
    @property
    def num_shape(self) -> int:
        return len(self.shape_names)

    @property
    def num_expression(self) -> int:
        return len(self.expr_names)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_landmarks(self) -> int:
        return len(self.landmark_names)

    # -- forward ----------------------------------------------------------------------------------------
    def forward(self, params: HeadParams, check_values: bool = True) -> HeadOutput:
        """Pose the head: blend shapes -> joints -> Rodrigues -> correctives -> chained transforms -> blend.

        `check_values=False` skips the NaN/Inf check (a device sync) for callers that validated already.
        """
        params.validate(self, check_values=check_values)
        dtype = self.v_template.dtype
        p = params.to(device=self.v_template.device, dtype=dtype)
        batch = p.batch_size
        v_shaped = (self.v_template[None] + blend_shapes(p.shape, self.shape_dirs)
                    + blend_shapes(p.expression, self.expr_dirs))  # (B, V, 3)
        joints = torch.einsum("jv,bvc->bjc", self.j_regressor, v_shaped)  # (B, 5, 3)
        axis_angles = torch.stack([p.rotation, p.neck, p.jaw, p.eyes[:, :3], p.eyes[:, 3:]], dim=1)
        rotations = axis_angle_to_matrix(axis_angles)  # (B, 5, 3, 3)
        if self.pose_dirs.shape[0] > 0:
            eye = torch.eye(3, dtype=dtype, device=rotations.device)
            pose_feature = (rotations[:, 1:] - eye).reshape(batch, -1)  # (B, 36)
            v_shaped = v_shaped + (pose_feature @ self.pose_dirs).reshape(batch, -1, 3)
        posed_joints, transforms = rigid_chain(rotations, joints, self._parents)
        vertices = skin_vertices(v_shaped, transforms, self.lbs_weights) + p.translation[:, None]
        return HeadOutput(vertices=vertices, landmarks=self.landmarks_from(vertices),
                          joints=posed_joints + p.translation[:, None])

    def landmarks_from(self, vertices: torch.Tensor) -> torch.Tensor:
        """Landmarks (B, L, 3) of posed vertices (B, V, 3) through the barycentric embedding."""
        corners = vertices[:, self.faces[self.landmark_faces]]  # (B, L, 3, 3)
        return (corners * self.landmark_bary[None, :, :, None]).sum(2)

    def to_world(self, vertices: torch.Tensor) -> torch.Tensor:
        """Native units -> tri-plane world: (vertices + world_shift) * world_scale."""
        return (vertices + self.world_shift) * self.world_scale

    def region_mask(self, *names: str) -> torch.Tensor:
        """(V,) bool: vertices whose region is one of `names` (see `region_names`)."""
        wanted = [self.region_names.index(n) for n in names if n in self.region_names]
        return torch.isin(self.vertex_region, torch.tensor(wanted, dtype=torch.long, device=self.vertex_region.device))

    def face_mask(self, *names: str) -> torch.Tensor:
        """(F,) bool: faces whose three vertices all lie in the regions `names` (e.g. drop 'teeth')."""
        return self.region_mask(*names)[self.faces].all(dim=1)

    # -- identity and files -----------------------------------------------------------------------------
    def to_data(self) -> HeadData:
        """A CPU copy of the schema (what `save` writes)."""
        values = {}
        for f in fields(HeadData):
            if f.name in _PLAIN_FIELDS:
                values[f.name] = getattr(self, f.name)
            else:
                values[f.name] = getattr(self, f.name).detach().cpu().clone()
        if not self.has_vertex_mirror:
            values["vertex_mirror"] = None
        values["shape_names"], values["expr_names"] = list(self.shape_names), list(self.expr_names)
        values["provenance"] = dict(self.provenance)
        return HeadData(**values)

    def content_hash(self) -> str:
        """sha256 (hex) of every tensor (as float32 / int64) and name that affects geometry; same on any device,
        run or file (generators record it to know which head they were trained with)."""
        digest = hashlib.sha256()
        plain = {"name": self.name, "shape_names": self.shape_names, "expr_names": self.expr_names,
                 "joint_names": self.joint_names, "landmark_names": self.landmark_names,
                 "region_names": self.region_names, "world_scale": repr(float(self.world_scale)),
                 "has_vertex_mirror": self.has_vertex_mirror}
        digest.update(json.dumps(plain, sort_keys=True).encode("utf-8"))
        for f in fields(HeadData):
            if f.name in _PLAIN_FIELDS:
                continue
            tensor = getattr(self, f.name).detach().cpu()
            tensor = (tensor.to(torch.float32) if tensor.is_floating_point() else tensor.to(torch.long)).contiguous()
            digest.update(f"{f.name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode("utf-8"))
            digest.update(tensor.numpy().tobytes())
        return digest.hexdigest()

    def save(self, path: str | os.PathLike) -> None:
        """Write the head as one safetensors file (atomic)."""
        from next3d.head.storage import save_head_file

        save_head_file(self.to_data(), path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> HeadModel:
        """Read a head file written by `save` (never runs code from the file)."""
        from next3d.head.storage import load_head_file

        return cls(load_head_file(path), where=f"head file '{path}'")

    def extra_repr(self) -> str:
        return (f"name={self.name!r}, vertices={self.num_vertices}, faces={int(self.faces.shape[0])}, "
                f"shape={self.num_shape}, expression={self.num_expression}, landmarks={self.num_landmarks}")
