"""FLAME loader on a small model the test writes in FLAME's exact file layout (no FLAME file exists here).

The pickle is written the way Python 2 wrote generic_model.pkl: protocol 2, byte strings as Python 2 `str`
opcodes, chumpy `Ch` objects and a scipy `csc_matrix` pickled as plain objects (class global + state dict).
Stand-in classes are pickled and their global names rewritten to chumpy's and scipy's, so neither is needed.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import sys

import numpy as np
import pytest
import torch

from next3d.errors import BadInputError, UnsafeFileError
from next3d.head import HeadParams
from next3d.head.flame import load_flame

RINGS, SEGMENTS, RADIUS = 7, 12, 0.1
N_COMPONENTS = 400  # FLAME: 300 identity + 100 expression columns


class FakeCh:
    """Pickles like chumpy's Ch: class global, then BUILD with __getstate__'s dict (array under 'x')."""

    def __init__(self, array):
        self.x = array
        self._dirty_vars = {"x"}
        self._itr = None
        self._depends_on_deps = {}
        self._make_dense = False
        self._make_sparse = False


class FakeCsc:
    """Pickles like scipy's csc_matrix: class global, then BUILD with the instance dict."""

    def __init__(self, dense):
        rows, cols = np.nonzero(dense.T)  # column-major order
        self.data = dense.T[rows, cols]
        self.indices = cols.astype(np.int32)
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[1]))]).astype(np.int32)
        self._shape = dense.shape
        self.maxprint = 50


class Python2Pickler(pickle._Pickler):
    """Protocol 2 with bytes written as Python 2 `str` (SHORT_BINSTRING / BINSTRING), as FLAME's pickle has."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(b"U" + bytes([len(obj)]) + obj)
        else:
            self.write(b"T" + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def python2_style_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    raw = buffer.getvalue()
    module = FakeCh.__module__.encode()
    raw = raw.replace(module + b"\nFakeCh\n", b"chumpy.ch\nCh\n")
    raw = raw.replace(module + b"\nFakeCsc\n", b"scipy.sparse.csc\ncsc_matrix\n")
    raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"FakeCh" not in raw and b"FakeCsc" not in raw
    return raw


def sphere_head():
    """A sphere 'head' with a 2x2-quad mouth hole in front, an open neck, and two octahedron eyeballs."""
    verts = [[0.0, RADIUS, 0.0]]
    for r in range(1, RINGS + 1):
        theta = math.pi * r / (RINGS + 1)
        for s in range(SEGMENTS):
            phi = 2 * math.pi * s / SEGMENTS  # phi = 0 looks along +z; symmetric pairs s <-> SEGMENTS - s
            verts.append([RADIUS * math.sin(theta) * math.sin(phi), RADIUS * math.cos(theta),
                          RADIUS * math.sin(theta) * math.cos(phi)])

    def ring(r, s):
        return 1 + (r - 1) * SEGMENTS + s % SEGMENTS

    faces = [[0, ring(1, s + 1), ring(1, s)] for s in range(SEGMENTS)]
    mouth = {(4, -1), (4, 0), (5, -1), (5, 0)}  # quads (upper ring, segment) removed just below the equator
    for r in range(1, RINGS):
        for s in range(SEGMENTS):
            if (r, s if s < SEGMENTS // 2 else s - SEGMENTS) in mouth:
                continue
            a, b, c, d = ring(r, s), ring(r, s + 1), ring(r + 1, s + 1), ring(r + 1, s)
            faces += [[a, b, c], [a, c, d]]
    eyes = []
    for side in (1.0, -1.0):  # left eye (+x) first, as FLAME's joint 3
        centre = np.array([0.035 * side, 0.02, 0.085])
        base = len(verts)
        for axis in range(3):
            for sign in (1.0, -1.0):
                p = centre.copy()
                p[axis] += sign * 0.01
                verts.append(p.tolist())
        eyes.append(list(range(base, base + 6)))
        o = base
        faces += [[o + 0, o + 2, o + 4], [o + 2, o + 1, o + 4], [o + 1, o + 3, o + 4], [o + 3, o + 0, o + 4],
                  [o + 2, o + 0, o + 5], [o + 1, o + 2, o + 5], [o + 3, o + 1, o + 5], [o + 0, o + 3, o + 5]]
    return np.array(verts), np.array(faces, dtype=np.int64), eyes


def write_flame(folder, *, posedirs=None, extra=None, mutate=None):
    """generic_model.pkl + head_template.obj in FLAME's layout; returns (pkl, obj, arrays)."""
    rng = np.random.default_rng(0)
    v, f, eyes = sphere_head()
    n = len(v)
    front_low = (v[:, 2] > 0.03) & (v[:, 1] < 0.0)
    shapedirs = np.zeros((n, 3, N_COMPONENTS))
    shapedirs[:, :, :300] = rng.normal(0, 1e-3, (n, 3, 300))
    shapedirs[front_low, :, 300:] = rng.normal(0, 2e-3, (int(front_low.sum()), 3, 100))
    weights = np.zeros((n, 5))
    weights[:, 1] = 1.0
    weights[v[:, 1] < -0.07, :] = [0.7, 0.3, 0, 0, 0]
    weights[front_low & (v[:, 1] < -0.02), :] = [0, 0.2, 0.8, 0, 0]
    for joint, ids in ((3, eyes[0]), (4, eyes[1])):
        weights[ids] = 0
        weights[ids, joint] = 1
    regressor = np.zeros((5, n))
    regressor[0, -12 - SEGMENTS:-12] = 1.0 / SEGMENTS  # the neck ring
    regressor[1, 1 + 3 * SEGMENTS:1 + 4 * SEGMENTS] = 1.0 / SEGMENTS  # the equator
    regressor[2, 1 + 4 * SEGMENTS:1 + 5 * SEGMENTS] = 1.0 / SEGMENTS
    regressor[3, eyes[0]] = 1 / 6
    regressor[4, eyes[1]] = 1 / 6
    arrays = {
        "v_template": v, "f": f.astype(np.uint32), "shapedirs": shapedirs,
        "posedirs": rng.normal(0, 1e-3, (n, 3, 36)) if posedirs is None else posedirs,
        "J_regressor": regressor, "weights": weights,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "J": regressor @ v,
    }
    content = {key: value for key, value in arrays.items()}
    content["shapedirs"] = FakeCh(shapedirs)
    content["v_template"] = FakeCh(v)
    content["J_regressor"] = FakeCsc(regressor)
    content["bs_style"] = "lbs"
    content["bs_type"] = "lrotmin"
    content.update(extra or {})
    if mutate:
        mutate(content)
    pkl = folder / "generic_model.pkl"
    pkl.write_bytes(python2_style_pickle(content))
    obj = folder / "head_template.obj"
    lines = [f"v {x:.9f} {y:.9f} {z:.9f}" for x, y, z in v]
    uvs = np.stack([0.5 + v[:, 0] / (2.5 * RADIUS), 0.5 + v[:, 1] / (2.5 * RADIUS)], 1)
    lines += [f"vt {a:.6f} {b:.6f}" for a, b in uvs]
    lines += ["f " + " ".join(f"{i + 1}/{i + 1}" for i in tri) for tri in f]
    obj.write_text("\n".join(lines) + "\n")
    return pkl, obj, arrays


def write_deca_landmarks(path, num_faces):
    rng = np.random.default_rng(1)
    bary = rng.random((68, 3))
    bary /= bary.sum(1, keepdims=True)
    embedding = {
        "static_lmk_faces_idx": rng.integers(0, num_faces, 51), "static_lmk_bary_coords": bary[17:],
        "dynamic_lmk_faces_idx": torch.zeros(79, 17, dtype=torch.long),  # DECA stores these as torch tensors
        "dynamic_lmk_bary_coords": torch.zeros(79, 17, 3),
        "full_lmk_faces_idx": rng.integers(0, num_faces, (1, 68)), "full_lmk_bary_coords": bary[None],
    }
    np.save(path, embedding, allow_pickle=True)
    return embedding


@pytest.fixture
def no_chumpy_no_scipy(monkeypatch):
    """Make `import chumpy` and `import scipy` fail while the loader runs."""
    for name in ("chumpy", "scipy", "scipy.sparse"):
        monkeypatch.setitem(sys.modules, name, None)


def test_flame_layout_loads_into_the_schema(tmp_path, no_chumpy_no_scipy):
    pkl, obj, arrays = write_flame(tmp_path)
    landmarks = tmp_path / "landmark_embedding.npy"
    embedding = write_deca_landmarks(landmarks, len(arrays["f"]))
    head = load_flame(pkl, obj, n_shape=20, n_expression=10, landmark_path=landmarks)
    v = torch.tensor(arrays["v_template"], dtype=torch.float32)
    assert torch.allclose(head.v_template, v)
    assert torch.equal(head.faces, torch.tensor(arrays["f"].astype(np.int64)))
    assert head.num_shape == 20 and head.num_expression == 10
    assert head.expr_names[0] == "expr_000" and head.shape_names[-1] == "shape_019"
    shapedirs = torch.tensor(arrays["shapedirs"], dtype=torch.float32)
    assert torch.equal(head.shape_dirs, shapedirs[:, :, :20])
    assert torch.equal(head.expr_dirs, shapedirs[:, :, 300:310])  # expressions start at column 300
    assert torch.allclose(head.j_regressor, torch.tensor(arrays["J_regressor"], dtype=torch.float32))
    assert head.parents.tolist() == [-1, 0, 1, 1, 1]
    assert head.world_scale == 2.5 and torch.allclose(head.world_shift, torch.tensor([0.0, 0.01, 0.0]))
    # UVs from the OBJ
    assert head.uvs.shape == (len(v), 2) and torch.equal(head.uv_faces, head.faces)
    # regions: eyeballs from the eye joints, face from the expression basis
    assert head.region_mask("eye_left").sum() == 6 and head.region_mask("eye_right").sum() == 6
    assert head.v_template[head.region_mask("eye_left"), 0].min() > 0  # FLAME's left eye is the subject's left (+x)
    assert head.region_mask("face").sum() > 0 and 0 < head.uv_mask.mean() < 1
    # landmarks: the 68-point layout, positions = barycentric interpolation of the given faces
    assert head.num_landmarks == 68 and head.lip_outer.tolist() == list(range(48, 60))
    assert head.lip_inner.tolist() == list(range(60, 68)) and head.mouth_corners.tolist() == [48, 54]
    out = head(HeadParams.neutral(head))
    corners = v[torch.tensor(arrays["f"][embedding["full_lmk_faces_idx"][0]].astype(np.int64))]
    expected = (corners * torch.tensor(embedding["full_lmk_bary_coords"][0], dtype=torch.float32)[..., None]).sum(1)
    assert torch.allclose(out.landmarks[0], expected, atol=1e-6)
    assert torch.allclose(out.joints[0], torch.tensor(arrays["J"], dtype=torch.float32), atol=1e-6)
    assert "chumpy" not in [m for m in sys.modules if sys.modules[m] is not None]


def test_pose_correctives_use_flames_layout(tmp_path):
    """posedirs (V, 3, 36) multiply (R_j - I) of neck, jaw, eyes flattened row-major."""
    v, _, _ = sphere_head()
    posedirs = np.zeros((len(v), 3, 36))
    posedirs[0, 1, 9 + 3] = 0.5  # top vertex, y offset, jaw rotation matrix entry (1, 0)
    pkl, obj, _ = write_flame(tmp_path, posedirs=posedirs)
    head = load_flame(pkl, obj, n_shape=0, n_expression=0)
    params = HeadParams.neutral(head)
    params.jaw = torch.tensor([[0.0, 0.0, 0.3]])  # about z: entry (1, 0) of R is sin(0.3)
    moved = head(params).vertices[0, 0] - head(HeadParams.neutral(head)).vertices[0, 0]
    # the top vertex is bound to the neck joint only, so the corrective is its whole displacement
    assert torch.allclose(moved, torch.tensor([0.0, 0.5 * math.sin(0.3), 0.0]), atol=1e-6)
    assert head.pose_dirs.shape == (36, len(v) * 3)


def test_without_landmark_file_the_lips_come_from_the_mouth_opening(tmp_path):
    pkl, obj, arrays = write_flame(tmp_path)
    head = load_flame(pkl, obj, n_shape=5, n_expression=5)
    assert "heuristic" in head.provenance["landmarks"]
    out = head(HeadParams.neutral(head)).landmarks[0]
    # the mouth opening's rim: the 8 vertices around the two removed rows of quads in front
    v = torch.tensor(arrays["v_template"], dtype=torch.float32)
    rim = torch.tensor([1 + (r - 1) * SEGMENTS + s % SEGMENTS
                        for r in (4, 5, 6) for s in (-1, 0, 1) if (r, s) != (5, 0)])
    inner = out[head.lip_inner]
    assert torch.cdist(inner, v[rim]).min(dim=1).values.max() < 1e-6  # inner lip landmarks lie on the rim
    centre = v[rim].mean(0)
    outer = out[head.lip_outer]
    assert (outer - centre).norm(dim=1).min() > (inner - centre).norm(dim=1).max()  # the outer contour surrounds it
    corners = out[head.mouth_corners]
    assert corners[0, 0] < 0 < corners[1, 0]  # the subject's right corner (-x) comes first


def test_missing_obj_wrong_shapes_and_missing_keys_are_named(tmp_path):
    pkl, obj, _ = write_flame(tmp_path)
    with pytest.raises(BadInputError, match="head_template.obj, which was not found"):
        load_flame(pkl, tmp_path / "nope.obj")

    def bad_posedirs(content):
        content["posedirs"] = np.zeros((5, 3, 36))

    pkl, obj, _ = write_flame(tmp_path, mutate=bad_posedirs)
    with pytest.raises(BadInputError, match=r"generic_model\.pkl': 'posedirs' has shape \(5, 3, 36\), "
                                            r"expected \(V, 3, 36\) = \(97, 3, 36\)"):
        load_flame(pkl, obj)

    def no_weights(content):
        del content["weights"]

    pkl, obj, _ = write_flame(tmp_path, mutate=no_weights)
    with pytest.raises(BadInputError, match="missing weights"):
        load_flame(pkl, obj)
    pkl, obj, _ = write_flame(tmp_path)
    obj.write_text(obj.read_text().replace("f 1/1 ", "f 2/1 ", 1))
    with pytest.raises(BadInputError, match="faces differ from the"):
        load_flame(pkl, obj)
    with pytest.raises(BadInputError, match="at most 100 expression components"):
        load_flame(pkl.with_name("generic_model.pkl"), tmp_path / "head_template.obj", n_expression=101)


class _Shell:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def test_a_flame_pickle_with_a_malicious_global_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    pkl, obj, _ = write_flame(tmp_path, extra={"bs_style": _Shell(f"touch {marker}")})
    with pytest.raises(UnsafeFileError, match=r"refusing to load FLAME model .*system.*nothing was executed"):
        load_flame(pkl, obj)
    assert not marker.exists()
