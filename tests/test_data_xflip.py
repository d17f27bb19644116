"""x-flip augmentation: the mirrored sample (flipped image, mirrored camera, mirrored head parameters or
vertices) shows the mirrored scene, i.e. projecting the mirrored head with the mirrored camera lands every
point at the left-right flipped image position of its mirror partner."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from next3d.data.dataset import HeadDataset
from next3d.data.head_link import head_section_for
from next3d.data.schema import DatasetIndex
from next3d.data.vertex_io import encode_npy
from next3d.data.writer import DatasetWriter
from next3d.data.xflip import HeadMirror
from next3d.errors import BadInputError
from next3d.head import HeadModel, HeadParams
from next3d.head.schema import HeadData
from next3d.render.camera import make_label, mirror_label, orbit_pose, project, split_label

RINGS, SECTORS = 9, 16  # latitude rings (without poles) and longitude sectors of the tiny head


def tiny_head() -> HeadModel:
    """A small left/right-symmetric ellipsoid head with every schema table (mirror tables included).

    Sector k sits at longitude 2*pi*k/SECTORS from +z toward +x, so x -> -x maps sector k to -k.
    """
    lat = torch.linspace(0, math.pi, RINGS + 2)[1:-1]
    lon = torch.arange(SECTORS) * (2 * math.pi / SECTORS)
    ring = torch.stack([torch.sin(lat)[:, None] * torch.sin(lon), torch.cos(lat)[:, None].expand(-1, SECTORS),
                        torch.sin(lat)[:, None] * torch.cos(lon)], -1).reshape(-1, 3)
    unit = torch.cat([torch.tensor([[0.0, 1.0, 0.0]]), ring, torch.tensor([[0.0, -1.0, 0.0]])])
    v = unit * torch.tensor([0.08, 0.11, 0.095])
    n = v.shape[0]

    def idx(r, k):
        return 1 + r * SECTORS + k % SECTORS

    faces = [[0, idx(0, k), idx(0, k + 1)] for k in range(SECTORS)]
    for r in range(RINGS - 1):
        for k in range(SECTORS):
            faces += [[idx(r, k), idx(r + 1, k), idx(r + 1, k + 1)], [idx(r, k), idx(r + 1, k + 1), idx(r, k + 1)]]
    faces += [[n - 1, idx(RINGS - 1, k + 1), idx(RINGS - 1, k)] for k in range(SECTORS)]
    faces = torch.tensor(faces)
    mirror = torch.tensor([0] + [idx(r, -k) for r in range(RINGS) for k in range(SECTORS)] + [n - 1])
    x, y, z = v.unbind(1)

    def near(point, spread):
        return torch.softmax(-((v - torch.tensor(point)) ** 2).sum(1) / spread, 0)

    joints = torch.stack([near((0, 0, 0), 1.0), near((0, -0.1, 0), 1e-3), near((0, -0.05, 0.05), 1e-3),
                          near((0.03, 0.03, 0.09), 1e-4), near((-0.03, 0.03, 0.09), 1e-4)])
    jaw = ((y < -0.03) & (z > 0.02)).float()
    eye_l = (((v - torch.tensor([0.03, 0.03, 0.09])) ** 2).sum(1) < 0.02 ** 2).float()
    eye_r = eye_l[mirror]
    weights = torch.stack([1 - jaw - eye_l - eye_r, torch.zeros(n), jaw, eye_l, eye_r], 1)
    side = torch.sigmoid(x / 0.01) * (z > 0).float()
    shape_dirs = torch.stack([torch.stack([x, 0 * x, 0 * x], 1), torch.stack([0 * x, x, 0 * x], 1)], -1) * 0.5
    expr_dirs = torch.stack([torch.stack([0 * x, 0.02 * side, 0 * x], 1),
                             torch.stack([0 * x, 0.02 * side[mirror], 0 * x], 1),
                             torch.stack([0 * x, 0.02 * (y > 0.05).float(), 0 * x], 1)], -1)
    lm_faces = torch.tensor([_face_near(faces, v, p) for p in ((-0.03, -0.05, 0.08), (0.03, -0.05, 0.08),
                                                                (0, -0.04, 0.09), (0, -0.06, 0.09))])
    region = torch.where(y > 0.06, 1, 0) + torch.where((eye_l + eye_r) > 0, 2, 0)
    data = HeadData(
        name="tiny-test-head", v_template=v, faces=faces, uvs=(v[:, :2] / 0.25 + 0.5), uv_faces=faces.clone(),
        shape_dirs=shape_dirs, shape_names=["width", "tilt"], expr_dirs=expr_dirs,
        expr_names=["smileLeft", "smileRight", "browUp"], pose_dirs=torch.zeros(0, n * 3), j_regressor=joints,
        parents=torch.tensor([-1, 0, 1, 1, 1]), lbs_weights=weights, joint_names=["global", "neck", "jaw",
                                                                                  "eye_left", "eye_right"],
        landmark_faces=lm_faces, landmark_bary=torch.full((4, 3), 1 / 3),
        landmark_names=["mouth_right", "mouth_left", "lip_top", "lip_bottom"], lip_outer=torch.tensor([0, 2, 1, 3]),
        lip_inner=torch.tensor([0, 2, 1, 3]), mouth_corners=torch.tensor([0, 1]), uv_mask=torch.ones(8, 8),
        vertex_region=region.clamp(max=2), region_names=["skin", "scalp", "eyeballs"],
        expr_mirror=torch.tensor([1, 0, 2]), expr_mirror_sign=torch.ones(3), shape_mirror=torch.tensor([0, 1]),
        shape_mirror_sign=torch.tensor([1.0, -1.0]), world_scale=2.5, world_shift=torch.tensor([0.0, 0.03, 0.0]),
        vertex_mirror=mirror)
    return HeadModel(data)


def _face_near(faces, v, point) -> int:
    centres = v[faces].mean(1)
    return int(((centres - torch.tensor(point)) ** 2).sum(1).argmin())


def random_params(head: HeadModel, batch: int, seed: int = 0) -> HeadParams:
    g = torch.Generator().manual_seed(seed)
    p = HeadParams.neutral(head, batch)
    for name in ("shape", "expression", "jaw", "neck", "eyes", "rotation", "translation"):
        setattr(p, name, torch.randn(getattr(p, name).shape, generator=g) * 0.2)
    return p


def test_mirrored_params_under_mirrored_camera_land_at_flipped_positions():
    head = tiny_head()
    params = random_params(head, 3)
    labels = make_label(orbit_pose(torch.tensor([0.4, -0.2, 0.0]), torch.tensor([0.1, -0.15, 0.2])))
    mirror = HeadMirror(head)
    flipped_params = HeadParams.from_vector(mirror.vectors(params.to_vector()), head)
    original = head.to_world(head(params).vertices)
    mirrored = head.to_world(head(flipped_params).vertices)
    uv, depth = project(original, *split_label(labels))
    uv_m, depth_m = project(mirrored, *split_label(mirror_label(labels)))
    partner = head.vertex_mirror
    assert torch.allclose(uv_m[:, :, 0], 1.0 - uv[:, partner, 0], atol=1e-5)
    assert torch.allclose(uv_m[:, :, 1], uv[:, partner, 1], atol=1e-5)
    assert torch.allclose(depth_m, depth[:, partner], atol=1e-5)
    assert not torch.allclose(uv_m, uv, atol=1e-3)  # the test is not vacuous: the head is not symmetric


def test_vertex_mirror_matches_mirrored_params():
    head = tiny_head()
    params = random_params(head, 2, seed=1)
    mirror = HeadMirror(head)
    from_params = head(HeadParams.from_vector(mirror.vectors(params.to_vector()), head)).vertices
    assert torch.allclose(mirror.vertices(head(params).vertices), from_params, atol=1e-6)


def _write_head_dataset(path, head, params, with_vertices=False, n=4, res=16):
    labels = make_label(orbit_pose(torch.linspace(-0.6, 0.6, n), torch.zeros(n))).double().numpy()
    rng = np.random.default_rng(0)
    names = [f"img{i:02d}.png" for i in range(n)]
    vertex_files = [f"verts/img{i:02d}.npy" for i in range(n)] if with_vertices else None
    section = head_section_for(head)
    index = DatasetIndex(names, labels, section, params.to_vector().double().numpy(), vertex_files)
    vertices = head(params).vertices.detach().numpy()
    from next3d.data.image_io import encode_png
    with DatasetWriter(path) as writer:
        for i, name in enumerate(names):
            writer.add(name, encode_png(rng.integers(0, 256, (res, res, 3), dtype=np.uint8)))
            if with_vertices:
                writer.add(vertex_files[i], encode_npy(vertices[i]))
        writer.finish(index)
    return path


def test_dataset_xflip_doubles_and_mirrors_everything_consistently(tmp_path):
    head = tiny_head()
    params = random_params(head, 4, seed=2)
    path = _write_head_dataset(tmp_path / "ds.zip", head, params, with_vertices=True)
    data = HeadDataset(path, xflip=True, head=head)
    assert len(data) == 8
    plain, flipped = data[1], data[5]
    assert not plain.flipped and flipped.flipped and flipped.index == plain.index == 1
    assert torch.equal(flipped.image, plain.image.flip(-1))
    assert torch.allclose(flipped.label, mirror_label(plain.label)[0])
    mirrored_params = HeadParams.from_vector(flipped.head, head)
    assert torch.allclose(head(mirrored_params).vertices[0], flipped.vertices, atol=1e-5)
    assert torch.allclose(HeadMirror(head).vectors(flipped.head[None])[0], plain.head, atol=1e-6)  # involution


def test_head_vectors_round_trip_and_are_checked_against_the_head(tmp_path):
    head = tiny_head()
    params = random_params(head, 4, seed=3)
    path = _write_head_dataset(tmp_path / "ds", head, params)
    data = HeadDataset(path, head=head)
    assert torch.allclose(data[2].head, params.to_vector()[2], atol=1e-7)
    assert data.head_section.model_hash == head.content_hash()
    other = tiny_head()
    other.shape_dirs.mul_(2.0)  # same sizes, different geometry: a different head model
    with pytest.raises(BadInputError, match="belong to head model 'tiny-test-head'"):
        HeadDataset(path, xflip=True, head=other)


def test_head_vector_of_wrong_length_names_the_entry(tmp_path):
    import json

    head = tiny_head()
    path = _write_head_dataset(tmp_path / "ds", head, random_params(head, 4))
    doc = json.loads((path / "dataset.json").read_text())
    doc["head"]["params"][2][1].pop()
    doc["head"]["params"][3][1][0] = float("nan")
    (path / "dataset.json").write_text(json.dumps(doc))
    with pytest.raises(BadInputError, match=r"entry 2 \(img02.png\): head parameter vector has 22 numbers, "
                                            r"expected 23 \(shape 2 \+ expression 3"):
        HeadDataset(path)
    data = HeadDataset(path, skip_bad=True, warn=lambda m: None)
    assert data.skipped == 2 and len(data) == 2


def test_rasterized_mirrored_head_under_mirrored_camera_is_the_flipped_silhouette():
    from next3d.raster import camera_clip, rasterize

    head = tiny_head()
    params = random_params(head, 2, seed=4)
    params.translation = params.translation * 0.1  # keep the head in view
    labels = make_label(orbit_pose(torch.tensor([0.5, -0.3]), torch.tensor([0.1, 0.2])))
    mirrored_params = HeadParams.from_vector(HeadMirror(head).vectors(params.to_vector()), head)
    masks = []
    for p, label in ((params, labels), (mirrored_params, mirror_label(labels))):
        world = head.to_world(head(p).vertices)
        frags = rasterize(camera_clip(world, *split_label(label)).clip, head.faces, 64, cull="none")
        masks.append(frags.mask)
    assert masks[0].float().mean() > 0.1 and not torch.equal(masks[0], masks[0].flip(-1))
    mismatch = (masks[1] != masks[0].flip(-1)).float().mean()
    assert mismatch < 0.005  # only pixel centres exactly on an edge may differ
