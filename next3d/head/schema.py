"""The one schema every head model fills in, whatever its source (built-in asset, FLAME, ...).

Frames and units: vertices are in the model's native units (metres for the built-in head and FLAME),
y up, the face looks toward +z, +x is the subject's left. `world = (vertices + world_shift) * world_scale`
places the head in the tri-plane world (docs/conventions.md).

UVs follow the OBJ convention: u to the right, v **up** ([0, 1]^2, v = 0 is the bottom row of a texture
image). The UV mask is stored as an image: row 0 is the top (v = 1), column 0 is u = 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from next3d.errors import BadInputError

JOINT_NAMES = ("global", "neck", "jaw", "eye_left", "eye_right")
NUM_JOINTS = len(JOINT_NAMES)
PARENTS = (-1, 0, 1, 1, 1)
POSE_CORRECTIVE_DIM = (NUM_JOINTS - 1) * 9  # (R_j - I) of the 4 non-root joints, flattened row-major


@dataclass
class HeadData:
    """Every tensor and name of a head model (CPU tensors; `HeadModel` turns them into buffers)."""

    name: str
    v_template: torch.Tensor        # (V, 3) float, native units
    faces: torch.Tensor             # (F, 3) long, counter-clockwise seen from outside
    uvs: torch.Tensor               # (T, 2) float in [0, 1], OBJ convention (v up)
    uv_faces: torch.Tensor          # (F, 3) long, indices into uvs
    shape_dirs: torch.Tensor        # (V, 3, S) float, native units per unit coefficient
    shape_names: list[str]
    expr_dirs: torch.Tensor         # (V, 3, E) float
    expr_names: list[str]
    pose_dirs: torch.Tensor         # (P, V*3) float, P = 36 or 0 (no pose correctives)
    j_regressor: torch.Tensor       # (5, V) float, rows sum to 1
    parents: torch.Tensor           # (5,) long, -1 for the root
    lbs_weights: torch.Tensor       # (V, 5) float, rows sum to 1
    joint_names: list[str]
    landmark_faces: torch.Tensor    # (L,) long, face index of each landmark
    landmark_bary: torch.Tensor     # (L, 3) float, barycentric coordinates in that face
    landmark_names: list[str]
    lip_outer: torch.Tensor         # (Lo,) long, landmark indices ordered around the outer lip contour
    lip_inner: torch.Tensor         # (Li,) long, landmark indices ordered around the inner lip contour
    mouth_corners: torch.Tensor     # (2,) long, landmark indices: subject's right corner, then left
    uv_mask: torch.Tensor           # (Hm, Wm) float in [0, 1]; row 0 = v = 1 (top)
    vertex_region: torch.Tensor     # (V,) long, index into region_names
    region_names: list[str]
    expr_mirror: torch.Tensor       # (E,) long: coefficient j of the mirrored head = sign_j * coeff[perm_j]
    expr_mirror_sign: torch.Tensor  # (E,) float, +-1
    shape_mirror: torch.Tensor      # (S,) long
    shape_mirror_sign: torch.Tensor # (S,) float, +-1
    world_scale: float
    world_shift: torch.Tensor       # (3,) float, native units
    vertex_mirror: torch.Tensor | None = None  # (V,) long: the vertex at the x-mirrored position
    provenance: dict[str, str] = field(default_factory=dict)  # source, versions, notes (not hashed)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def validate(self, where: str) -> None:
        """Check every shape, range and index against the schema; raise BadInputError naming the field."""
        v = self.num_vertices
        f = int(self.faces.shape[0]) if self.faces.ndim == 2 else -1
        s, e = len(self.shape_names), len(self.expr_names)
        lm = len(self.landmark_names)
        _expect(where, "v_template", self.v_template, (v, 3), "(V, 3)", floating=True)
        if v < 3:
            raise BadInputError(f"{where}: v_template has {v} vertices; a head needs at least 3")
        _expect(where, "faces", self.faces, (f, 3), "(F, 3)", floating=False)
        _expect(where, "uv_faces", self.uv_faces, (f, 3), f"(F, 3) = ({f}, 3) like faces", floating=False)
        _expect(where, "uvs", self.uvs, (self.uvs.shape[0] if self.uvs.ndim == 2 else -1, 2), "(T, 2)",
                floating=True)
        _expect(where, "shape_dirs", self.shape_dirs, (v, 3, s), f"(V, 3, S) = ({v}, 3, {s})", floating=True)
        _expect(where, "expr_dirs", self.expr_dirs, (v, 3, e), f"(V, 3, E) = ({v}, 3, {e})", floating=True)
        p = int(self.pose_dirs.shape[0]) if self.pose_dirs.ndim == 2 else -1
        if p not in (0, POSE_CORRECTIVE_DIM):
            raise BadInputError(f"{where}: pose_dirs has shape {tuple(self.pose_dirs.shape)}, expected "
                                f"({POSE_CORRECTIVE_DIM}, V*3) = ({POSE_CORRECTIVE_DIM}, {v * 3}) or (0, {v * 3})")
        _expect(where, "pose_dirs", self.pose_dirs, (p, v * 3), f"(P, V*3) = ({p}, {v * 3})", floating=True)
        _expect(where, "j_regressor", self.j_regressor, (NUM_JOINTS, v), f"(5, V) = (5, {v})", floating=True)
        _expect(where, "parents", self.parents, (NUM_JOINTS,), "(5,)", floating=False)
        _expect(where, "lbs_weights", self.lbs_weights, (v, NUM_JOINTS), f"(V, 5) = ({v}, 5)", floating=True)
        _expect(where, "landmark_faces", self.landmark_faces, (lm,), f"(L,) = ({lm},)", floating=False)
        _expect(where, "landmark_bary", self.landmark_bary, (lm, 3), f"(L, 3) = ({lm}, 3)", floating=True)
        _expect(where, "lip_outer", self.lip_outer, (self.lip_outer.numel(),), "(Lo,)", floating=False)
        _expect(where, "lip_inner", self.lip_inner, (self.lip_inner.numel(),), "(Li,)", floating=False)
        _expect(where, "mouth_corners", self.mouth_corners, (2,), "(2,)", floating=False)
        if self.uv_mask.ndim != 2 or not self.uv_mask.is_floating_point() or min(self.uv_mask.shape) < 1:
            raise BadInputError(f"{where}: uv_mask has shape {tuple(self.uv_mask.shape)}, expected (Hm, Wm) float")
        _expect(where, "vertex_region", self.vertex_region, (v,), f"(V,) = ({v},)", floating=False)
        _expect(where, "expr_mirror", self.expr_mirror, (e,), f"(E,) = ({e},)", floating=False)
        _expect(where, "expr_mirror_sign", self.expr_mirror_sign, (e,), f"(E,) = ({e},)", floating=True)
        _expect(where, "shape_mirror", self.shape_mirror, (s,), f"(S,) = ({s},)", floating=False)
        _expect(where, "shape_mirror_sign", self.shape_mirror_sign, (s,), f"(S,) = ({s},)", floating=True)
        _expect(where, "world_shift", self.world_shift, (3,), "(3,)", floating=True)
        if self.vertex_mirror is not None:
            _expect(where, "vertex_mirror", self.vertex_mirror, (v,), f"(V,) = ({v},)", floating=False)
            _check_index(where, "vertex_mirror", self.vertex_mirror, v)
            _check_permutation(where, "vertex_mirror", self.vertex_mirror)
        if len(self.joint_names) != NUM_JOINTS:
            raise BadInputError(f"{where}: joint_names has {len(self.joint_names)} names, expected 5 {JOINT_NAMES}")
        if tuple(self.parents.tolist()) != PARENTS:
            raise BadInputError(f"{where}: parents are {self.parents.tolist()}, expected {list(PARENTS)} "
                                "(global, neck, jaw, left eye, right eye)")
        _check_index(where, "faces", self.faces, v)
        _check_index(where, "uv_faces", self.uv_faces, int(self.uvs.shape[0]))
        _check_index(where, "landmark_faces", self.landmark_faces, f)
        for name, idx in (("lip_outer", self.lip_outer), ("lip_inner", self.lip_inner),
                          ("mouth_corners", self.mouth_corners)):
            _check_index(where, name, idx, lm)
        _check_index(where, "vertex_region", self.vertex_region, len(self.region_names))
        _check_index(where, "expr_mirror", self.expr_mirror, e)
        _check_index(where, "shape_mirror", self.shape_mirror, s)
        _check_permutation(where, "expr_mirror", self.expr_mirror)
        _check_permutation(where, "shape_mirror", self.shape_mirror)
        for name, tensor in (("v_template", self.v_template), ("shape_dirs", self.shape_dirs),
                             ("expr_dirs", self.expr_dirs), ("pose_dirs", self.pose_dirs),
                             ("j_regressor", self.j_regressor), ("lbs_weights", self.lbs_weights),
                             ("uvs", self.uvs), ("landmark_bary", self.landmark_bary), ("uv_mask", self.uv_mask),
                             ("world_shift", self.world_shift)):
            if not torch.isfinite(tensor).all():
                raise BadInputError(f"{where}: {name} contains NaN or Inf")
        for name, names, count in (("shape_names", self.shape_names, s), ("expr_names", self.expr_names, e),
                                   ("landmark_names", self.landmark_names, lm)):
            if len(set(names)) != count:
                raise BadInputError(f"{where}: {name} has repeated names")
        if not (self.world_scale > 0):
            raise BadInputError(f"{where}: world_scale is {self.world_scale}, expected a positive number")
        if (self.uv_mask.min() < 0) or (self.uv_mask.max() > 1):
            raise BadInputError(f"{where}: uv_mask values must lie in [0, 1]")
        weight_err = (self.lbs_weights.sum(1) - 1).abs().max().item() if v else 0.0
        if weight_err > 1e-3:
            raise BadInputError(f"{where}: lbs_weights rows must sum to 1 (off by up to {weight_err:.3g})")


def _expect(where: str, name: str, tensor: torch.Tensor, shape: tuple[int, ...], text: str, *,
            floating: bool) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise BadInputError(f"{where}: {name} is missing or not an array, expected shape {text}")
    if tuple(tensor.shape) != tuple(shape):
        raise BadInputError(f"{where}: {name} has shape {tuple(tensor.shape)}, expected {text}")
    if floating and not tensor.is_floating_point():
        raise BadInputError(f"{where}: {name} has dtype {tensor.dtype}, expected floating point")
    if not floating and (tensor.is_floating_point() or tensor.dtype == torch.bool):
        raise BadInputError(f"{where}: {name} has dtype {tensor.dtype}, expected integer indices")


def _check_index(where: str, name: str, tensor: torch.Tensor, upper: int) -> None:
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= upper):
        raise BadInputError(f"{where}: {name} holds indices outside [0, {upper})")


def _check_permutation(where: str, name: str, perm: torch.Tensor) -> None:
    if perm.numel() and not torch.equal(torch.sort(perm).values, torch.arange(perm.numel())):
        raise BadInputError(f"{where}: {name} is not a permutation")
    if perm.numel() and not torch.equal(perm[perm], torch.arange(perm.numel())):
        raise BadInputError(f"{where}: {name} must be its own inverse (mirroring twice is the identity)")
