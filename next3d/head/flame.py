"""FLAME (2020/2023) in the Next3D head schema: the user's generic_model.pkl + head_template.obj.

Nothing from chumpy or scipy is needed: the pickle is read through a whitelist (next3d/head/flame_files.py).
FLAME carries no names or labels, so this loader derives what the schema needs and says how:
- expression/shape names: "expr_000".., "shape_000"..; the expression basis starts at column 300 of
  `shapedirs` (FLAME: 300 identity + 100 expression components).
- regions: eyeballs = vertices bound fully to an eye joint; face = vertices some expression component
  moves by more than 2 % of the largest expression displacement; neck = the rest bound mostly to the root
  joint; scalp = everything else. The UV mask is 1 on faces whose corners are all face or eye vertices.
- landmarks: the 68-point iBUG layout from a landmark embedding when given (DECA's landmark_embedding.npy
  or FLAME's static 51-point one; lips 48-67, corners 48 and 54); otherwise a heuristic: the inner lip
  contour is the mouth opening (the lowest hole of the face) and the outer contour the ring of vertices two
  edges away from it (recorded in `provenance['landmarks']`).
- mirror: vertex partners from the template's x-symmetry; each PCA component maps to itself with the sign
  of its correlation with its own mirror image (approximate for components that are neither symmetric
  nor antisymmetric).
- placement: world = (vertices + (0, 0.01, 0)) * 2.5 (see FLAME_WORLD_SCALE).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from next3d.errors import BadInputError
from next3d.head.flame_files import LandmarkEmbedding, read_flame_pickle, read_landmark_embedding
from next3d.head.lip_contour import contour_landmarks, embed_vertices
from next3d.head.model import HeadModel
from next3d.head.obj_file import read_obj
from next3d.head.schema import JOINT_NAMES, NUM_JOINTS, PARENTS, POSE_CORRECTIVE_DIM, HeadData
from next3d.head.symmetry import mirror_vertex_map
from next3d.head.topology import boundary_loops, ring_distance
from next3d.head.uv_mask import rasterize_uv_mask

FLAME_SHAPE_COMPONENTS = 300  # identity components before the expression ones in FLAME's shapedirs
# Official Next3D rasterizes (v + shift) * 5 into planes spanning NDC [-1, 1], and a plane's NDC is
# 2 * world / box_warp with box_warp = 1: the tri-plane world position is therefore (v + shift) * 2.5.
FLAME_WORLD_SCALE = 2.5
# The official raster maps native (x, y) to NDC 5 * (x, y + 0.01) and the side views map z to +-5 z; NDC spans
# the box, so world = 2.5 * (x, y + 0.01, z) (docs/official_layout.md, section 4).
FLAME_WORLD_SHIFT = (0.0, 0.01, 0.0)
REGION_NAMES = ("face", "scalp", "neck", "eye_left", "eye_right")
FACE_EXPRESSION_FRACTION = 0.02
MIRROR_TOLERANCE = 1e-4  # metres
UV_MASK_SIZE = 512
HEURISTIC_OUTER = 12
HEURISTIC_INNER = 8


def load_flame(pkl_path: str | os.PathLike, obj_path: str | os.PathLike | None = None, *, n_shape: int = 100,
               n_expression: int = 50, landmark_path: str | os.PathLike | None = None) -> HeadModel:
    """Load FLAME's generic_model.pkl (+ head_template.obj for UVs, default: beside the pkl) as a HeadModel."""
    pkl_path = Path(pkl_path)
    obj_path = Path(obj_path) if obj_path is not None else pkl_path.with_name("head_template.obj")
    where = f"FLAME model '{pkl_path}'"
    if not obj_path.is_file():
        raise BadInputError(f"{where}: its UVs come from head_template.obj, which was not found at '{obj_path}' "
                            "(pass the OBJ path: --obj)")
    raw = read_flame_pickle(pkl_path)
    arrays = _checked_arrays(raw, where, n_shape, n_expression)
    v_template, faces = arrays["v_template"], arrays["f"]
    obj = read_obj(obj_path)
    if obj.uv_faces is None:
        raise BadInputError(f"OBJ file '{obj_path}': has no texture coordinates (vt) on every face")
    if obj.faces.shape != faces.shape or not np.array_equal(obj.faces, faces):
        raise BadInputError(f"OBJ file '{obj_path}': its {len(obj.faces)} faces differ from the {len(faces)} faces "
                            f"of {where}; use the head_template.obj that belongs to this FLAME version")
    if len(obj.uvs) and (obj.uvs.min() < -1e-6 or obj.uvs.max() > 1 + 1e-6):
        raise BadInputError(f"OBJ file '{obj_path}': texture coordinates outside [0, 1]")

    shapedirs = arrays["shapedirs"]
    shape_dirs = shapedirs[:, :, :n_shape]
    expr_dirs = shapedirs[:, :, FLAME_SHAPE_COMPONENTS:FLAME_SHAPE_COMPONENTS + n_expression]
    all_expr = shapedirs[:, :, FLAME_SHAPE_COMPONENTS:]
    weights = arrays["weights"]
    regions = _regions(all_expr, weights)
    face_or_eye = np.isin(regions, [REGION_NAMES.index(n) for n in ("face", "eye_left", "eye_right")])
    uv_mask = rasterize_uv_mask(obj.uvs, obj.uv_faces, face_or_eye[faces].all(1), size=UV_MASK_SIZE)

    provenance = {"source": f"FLAME {pkl_path.name} + {obj_path.name}", "expression_offset": "300"}
    if landmark_path is not None:
        embedding = read_landmark_embedding(landmark_path)
        if embedding.faces.max() >= len(faces):
            raise BadInputError(f"landmark embedding '{landmark_path}': face index {int(embedding.faces.max())} is "
                                f"outside the {len(faces)} faces of {where}")
        landmarks = _ibug_landmarks(embedding)
        provenance["landmarks"] = f"iBUG-68 layout from {Path(landmark_path).name} ({embedding.layout})"
    else:
        landmarks = _heuristic_landmarks(faces, v_template, regions, where)
        provenance["landmarks"] = ("heuristic (no landmark embedding given): inner lip = the mouth opening, "
                                   "outer lip = the vertex ring two edges outside it")
    lm_faces, lm_bary, lm_names, lip_outer, lip_inner, corners = landmarks

    mirror = mirror_vertex_map(v_template, MIRROR_TOLERANCE)
    expr_sign = _component_mirror_signs(expr_dirs, mirror)
    shape_sign = _component_mirror_signs(shape_dirs, mirror)
    provenance["mirror"] = (
        "vertex partners from the template's symmetry; PCA components map to themselves with a sign"
        if mirror is not None else "template is not symmetric: no vertex mirror, identity on components")

    def t(a, dtype=torch.float32):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)

    data = HeadData(
        name=f"flame-{pkl_path.stem}",
        v_template=t(v_template), faces=t(faces, torch.long), uvs=t(obj.uvs), uv_faces=t(obj.uv_faces, torch.long),
        shape_dirs=t(shape_dirs), shape_names=[f"shape_{k:03d}" for k in range(n_shape)],
        expr_dirs=t(expr_dirs), expr_names=[f"expr_{k:03d}" for k in range(n_expression)],
        pose_dirs=t(arrays["posedirs"].reshape(-1, POSE_CORRECTIVE_DIM).T),
        j_regressor=t(arrays["J_regressor"]), parents=torch.tensor(PARENTS), lbs_weights=t(weights),
        joint_names=list(JOINT_NAMES), landmark_faces=t(lm_faces, torch.long), landmark_bary=t(lm_bary),
        landmark_names=lm_names, lip_outer=t(lip_outer, torch.long), lip_inner=t(lip_inner, torch.long),
        mouth_corners=t(corners, torch.long), uv_mask=t(uv_mask), vertex_region=t(regions, torch.long),
        region_names=list(REGION_NAMES),
        expr_mirror=torch.arange(n_expression), expr_mirror_sign=t(expr_sign),
        shape_mirror=torch.arange(n_shape), shape_mirror_sign=t(shape_sign),
        world_scale=FLAME_WORLD_SCALE, world_shift=t(FLAME_WORLD_SHIFT),
        vertex_mirror=None if mirror is None else t(mirror, torch.long), provenance=provenance,
    )
    return HeadModel(data, where=where)


def _checked_arrays(raw: dict, where: str, n_shape: int, n_expression: int) -> dict[str, np.ndarray]:
    """The FLAME keys this loader uses, as numpy arrays with their shapes checked."""
    needed = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")
    missing = [k for k in needed if k not in raw]
    if missing:
        raise BadInputError(f"{where}: missing {', '.join(missing)} (found keys {sorted(raw)}); not a FLAME model")
    out = {}
    for key in needed:
        value = raw[key]
        if not isinstance(value, np.ndarray) or value.dtype == object:
            raise BadInputError(f"{where}: '{key}' is a {type(value).__name__}, expected a numeric array")
        out[key] = value
    v = out["v_template"].shape[0] if out["v_template"].ndim == 2 else -1
    expected = {
        "v_template": ((v, 3), "(V, 3)"),
        "f": ((out["f"].shape[0] if out["f"].ndim == 2 else -1, 3), "(F, 3)"),
        "shapedirs": ((v, 3, out["shapedirs"].shape[-1] if out["shapedirs"].ndim == 3 else -1), "(V, 3, 400)"),
        "posedirs": ((v, 3, POSE_CORRECTIVE_DIM), f"(V, 3, 36) = ({v}, 3, 36)"),
        "J_regressor": ((NUM_JOINTS, v), f"(5, V) = (5, {v})"),
        "weights": ((v, NUM_JOINTS), f"(V, 5) = ({v}, 5)"),
        "kintree_table": ((2, NUM_JOINTS), "(2, 5)"),
    }
    for key, (shape, text) in expected.items():
        if tuple(out[key].shape) != shape or min(shape) < 1:
            raise BadInputError(f"{where}: '{key}' has shape {tuple(out[key].shape)}, expected {text}")
    columns = out["shapedirs"].shape[-1]
    if n_shape < 0 or n_shape > FLAME_SHAPE_COMPONENTS:
        raise BadInputError(f"{where}: n_shape {n_shape} must lie in [0, {FLAME_SHAPE_COMPONENTS}]")
    if n_expression < 0 or FLAME_SHAPE_COMPONENTS + n_expression > columns:
        raise BadInputError(f"{where}: shapedirs has {columns} components, so at most "
                            f"{max(columns - FLAME_SHAPE_COMPONENTS, 0)} expression components (asked {n_expression})")
    parents = out["kintree_table"][0].astype(np.int64)
    parents[parents >= NUM_JOINTS] = -1  # FLAME marks the root with 2**32 - 1
    parents[parents < 0] = -1
    if tuple(parents.tolist()) != PARENTS:
        raise BadInputError(f"{where}: kintree_table gives parents {parents.tolist()}, expected {list(PARENTS)}")
    if out["f"].min() < 0 or out["f"].max() >= v:
        raise BadInputError(f"{where}: 'f' holds vertex indices outside [0, {v})")
    result = {k: out[k].astype(np.float64) for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights")}
    result["f"] = out["f"].astype(np.int64)
    if not all(np.isfinite(a).all() for a in result.values()):
        raise BadInputError(f"{where}: contains NaN or Inf")
    return result


def _regions(expr_dirs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    regions = np.full(len(weights), REGION_NAMES.index("scalp"), dtype=np.int64)
    motion = np.linalg.norm(expr_dirs, axis=1).max(axis=1) if expr_dirs.shape[-1] else np.zeros(len(weights))
    regions[(weights[:, 0] > 0.5)] = REGION_NAMES.index("neck")
    if motion.max() > 0:
        regions[motion > FACE_EXPRESSION_FRACTION * motion.max()] = REGION_NAMES.index("face")
    regions[weights[:, 3] > 0.99] = REGION_NAMES.index("eye_left")
    regions[weights[:, 4] > 0.99] = REGION_NAMES.index("eye_right")
    return regions


def _ibug_landmarks(embedding: LandmarkEmbedding):
    names = [f"ibug_{k:02d}" for k in embedding.ibug]
    index = {int(k): i for i, k in enumerate(embedding.ibug)}
    lip_outer = [index[k] for k in range(48, 60)]
    lip_inner = [index[k] for k in range(60, 68)]
    return embedding.faces, embedding.bary, names, lip_outer, lip_inner, [index[48], index[54]]


def _heuristic_landmarks(faces: np.ndarray, vertices: np.ndarray, regions: np.ndarray, where: str):
    face_region = regions == REGION_NAMES.index("face")
    skin = ~np.isin(regions, [REGION_NAMES.index("eye_left"), REGION_NAMES.index("eye_right")])
    skin_faces = faces[skin[faces].all(1)]
    holes = [loop for loop in boundary_loops(skin_faces)[1:]  # the longest loop is the neck
             if face_region[loop].mean() > 0.5 and len(loop) >= HEURISTIC_INNER]
    if not holes:
        raise BadInputError(f"{where}: no mouth opening found for lip landmarks; pass a landmark embedding "
                            "(DECA's landmark_embedding.npy)")
    inner = min(holes, key=lambda loop: vertices[loop, 1].mean())
    hops = ring_distance(skin_faces, len(vertices), inner)
    ring = np.flatnonzero(hops == 2)
    if len(ring) < HEURISTIC_OUTER:
        raise BadInputError(f"{where}: the mouth opening has too few surrounding vertices for lip landmarks; pass a "
                            "landmark embedding")
    centre = vertices[inner].mean(0)
    ring = ring[np.argsort(np.arctan2(vertices[ring, 1] - centre[1], vertices[ring, 0] - centre[0]), kind="stable")]
    outer_ids = contour_landmarks(ring, vertices, HEURISTIC_OUTER)
    inner_ids = contour_landmarks(inner, vertices, HEURISTIC_INNER)
    ids = outer_ids + inner_ids
    lm_faces, lm_bary = embed_vertices(skin_faces, ids)
    lm_faces = _face_rows(faces, skin_faces[lm_faces])
    names = ([f"lip_outer_{k:02d}" for k in range(HEURISTIC_OUTER)]
             + [f"lip_inner_{k:02d}" for k in range(HEURISTIC_INNER)])
    lip_outer = list(range(HEURISTIC_OUTER))
    lip_inner = list(range(HEURISTIC_OUTER, HEURISTIC_OUTER + HEURISTIC_INNER))
    return lm_faces, lm_bary, names, lip_outer, lip_inner, [0, HEURISTIC_OUTER // 2]


def _face_rows(faces: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row index in `faces` of each triangle in `wanted` (same vertex order)."""
    lookup = {tuple(f): i for i, f in enumerate(faces.tolist())}
    return np.array([lookup[tuple(f)] for f in wanted.tolist()], dtype=np.int64)


def _component_mirror_signs(dirs: np.ndarray, mirror: np.ndarray | None) -> np.ndarray:
    """+-1 per component: the sign of the correlation between a basis and its x-mirror image."""
    count = dirs.shape[-1]
    if mirror is None or count == 0:
        return np.ones(count)
    flip = np.array([-1.0, 1.0, 1.0])[None, :, None]
    mirrored = dirs[mirror] * flip
    dots = (mirrored * dirs).sum(axis=(0, 1))
    return np.where(dots >= 0, 1.0, -1.0)
