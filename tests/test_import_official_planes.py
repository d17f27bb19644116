"""The official Next3D head stage (official_plane_layout): view transforms, plane assignment, alpha rules,
unmasked texture sampling, mouth fill, integer mouth boxes, antialiased crop/paste, pinned on hand-built cases."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest
import scipy.ndimage
import torch
import torch.nn.functional as F

from next3d.head import HeadModel, HeadParams, load_default_head
from next3d.networks.generator import LatentFeatures, RenderOptions
from next3d.networks.official_planes import (
    BACK_FACE_SIGN,
    DEPTH_SCALE,
    crop_resize,
    official_dynamic_planes,
    official_head_inputs,
    official_mouth_boxes,
    official_mouth_fill,
    official_view_coordinates,
    official_view_rotations,
    paste_resize,
    reachable_from_corner,
)
from next3d.networks.presets import preset_config
from next3d.raster import rasterize


def flame_placed(head: HeadModel) -> HeadModel:
    """The built-in head with native coordinates placed like FLAME's (same world positions)."""
    data = head.to_data()
    shift = torch.tensor([0.0, 0.01, 0.0])
    return HeadModel(dataclasses.replace(data, name="flame-placed", v_template=data.v_template + data.world_shift - shift,
                                         world_shift=shift))


@pytest.fixture(scope="module")
def head():
    return flame_placed(load_default_head())


def test_view_coordinates_follow_the_official_formulas():
    x, y, z = 0.02, 0.03, 0.05
    got = official_view_coordinates(torch.tensor([[[x, y, z]]]))[0, :, 0]
    expected = torch.tensor([
        [5 * x, 5 * (y + 0.01), -5 * (z - 0.01)],  # front: camera on +z (smallest depth = largest z)
        [-5 * z, 5 * (y + 0.01), -5 * (x - 0.01)],  # [0, 90, 0]: camera on +x
        [5 * z, 5 * (y + 0.01), 5 * (x + 0.01)],  # [0, -90, 0]: camera on -x
        [5 * x, -5 * (z - 0.01), -5 * (y - 0.01)],  # top: camera above
    ])
    assert torch.allclose(got, expected, atol=1e-6)


def test_view_rotations_default_to_the_cpu():
    rotations = official_view_rotations()
    assert rotations.shape == (4, 3, 3) and rotations.device.type == "cpu"
    assert torch.equal(rotations, official_view_rotations("cpu"))
    assert torch.allclose(rotations @ rotations.transpose(1, 2), torch.eye(3).expand(4, 3, 3), atol=1e-6)


def test_every_view_keeps_the_faces_that_look_at_its_camera(head):
    vertices = head(HeadParams.neutral(head)).vertices
    coords = official_view_coordinates(vertices)[0]  # (4, V, 3)
    clip = torch.cat([coords[..., :2], coords[..., 2:] * DEPTH_SCALE, torch.ones_like(coords[..., :1])], -1)
    frags = rasterize(clip.contiguous(), head.faces, 64, cull=torch.full((4,), BACK_FACE_SIGN, dtype=torch.int32))
    corners = vertices[0][head.faces]
    normals = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0], dim=-1)
    towards_camera = torch.tensor([[0, 0, 1], [1, 0, 0], [-1, 0, 0], [0, 1, 0]], dtype=torch.float32)
    for view in range(4):
        visible = frags.face_id[view][frags.mask[view]].long()
        assert visible.numel() > 100
        assert (normals[visible] @ towards_camera[view] > 0).all(), f"view {view} shows back faces"


def _stub_generator(head, res=32):
    """Just what official_dynamic_planes uses; the mouth net outputs ones, the blending net is the identity."""
    cfg = preset_config("tiny", official_plane_layout=True, plane_resolution=res, mouth_in_size=16)
    mouth = types.SimpleNamespace(synthesize=lambda crop, styles, noise: torch.ones(crop.shape[0], crop.shape[1], res, res))
    blend = types.SimpleNamespace(synthesize=lambda front, styles, noise: front)
    return types.SimpleNamespace(head=head, config=cfg, mouth_backbone=types.SimpleNamespace(synthesis=mouth),
                                 neural_blending=types.SimpleNamespace(synthesis=blend))


def _filled(covered: torch.Tensor) -> torch.Tensor:
    """Coverage plus every pixel not 4-connected to pixel (0, 0) through uncovered pixels (scipy reference)."""
    outside = ~covered.numpy()
    labels, _ = scipy.ndimage.label(outside)
    return torch.from_numpy(covered.numpy() | (labels != labels[0, 0]))


def test_plane_assignment_alpha_rules_and_unmasked_sampling(head):
    head = HeadModel(dataclasses.replace(head.to_data(), uv_mask=torch.ones(8, 8)))  # alpha = coverage
    G = _stub_generator(head)
    texture = torch.ones(1, 2, 64, 64)
    texture[:, 1] = torch.linspace(-1, 1, 64)[None, :]  # channel 1 varies with u
    latent = LatentFeatures(texture=texture, static_planes=None, mouth_styles={}, blend_styles={}, sr_styles={})
    dynamic, alpha, world, _landmarks = official_dynamic_planes(G, latent, HeadParams.neutral(head), RenderOptions())
    assert dynamic.shape == (1, 3, 2, 32, 32) and alpha.shape == (1, 3, 1, 32, 32)
    inner = (0, slice(None), 0, slice(4, -4), slice(4, -4))
    # Channel 0 is 1 everywhere in the texture: off the mesh too (sampled at uv (0.5, 0.5), not zeroed), and
    # the side plane holds the sum of the two side views.
    assert torch.allclose(dynamic[inner][0], torch.ones(24, 24)) and torch.allclose(dynamic[inner][2], torch.ones(24, 24))
    assert torch.allclose(dynamic[inner][1], torch.full((24, 24), 2.0))

    vertices = head(HeadParams.neutral(head)).vertices
    coords = official_view_coordinates(vertices)[0]
    clip = torch.cat([coords[..., :2], coords[..., 2:] * DEPTH_SCALE, torch.ones_like(coords[..., :1])], -1)
    covered = rasterize(clip.contiguous(), head.faces, 32, cull=torch.full((4,), BACK_FACE_SIGN, dtype=torch.int32)).mask
    # Planes: [front, view 1 + view 2, top]; alphas: filled front, filled view 1 only (binarized), filled top.
    assert torch.equal(alpha[0, 0, 0] == 1, _filled(covered[0])) and torch.equal(alpha[0, 2, 0] == 1, _filled(covered[3]))
    assert torch.equal(alpha[0, 1, 0] == 1, _filled(covered[1])) and torch.equal(alpha[0, 1, 0].unique(), torch.tensor([0.0, 1.0]))
    assert (covered[2] & ~_filled(covered[1])).any(), "view 2 covers pixels that its (ignored) alpha would add"
    assert torch.allclose(world, head.to_world(vertices))


def test_mouth_fill_matches_flood_fill_semantics():
    alpha = torch.zeros(3, 1, 12, 12)
    alpha[:, :, 2:10, 2:10] = 1.0
    alpha[:, :, 4:8, 4:8] = 0.0  # a hole in the mesh
    alpha[1, :, 2:10, 2:10][alpha[1, :, 2:10, 2:10] == 1.0] = 0.998  # 255 * 0.998 > 254: still a wall
    alpha[2, :, 2:10, 2:10][alpha[2, :, 2:10, 2:10] == 1.0] = 0.99  # 255 * 0.99 <= 254: the fill leaks in
    alpha[:, :, 0, 11] = 0.5  # low alpha reachable from the corner keeps its value
    filled = official_mouth_fill(alpha)
    for b in (0, 1):
        assert (filled[b, 0, 4:8, 4:8] == 1).all()
        assert filled[b, 0, 0, 11] == 0.5 and filled[b, 0, 0, 0] == 0
    assert (filled[2, 0, 4:8, 4:8] == 0).all() and torch.equal(filled[2], alpha[2])


@pytest.mark.parametrize("density", [0.45, 0.6, 0.75])
def test_reachability_equals_4_connected_components(density):
    fillable = torch.rand(4, 1, 40, 40, generator=torch.Generator().manual_seed(int(density * 100))) < density
    reached = reachable_from_corner(fillable)
    for b in range(4):
        grid = fillable[b, 0].numpy().copy()
        grid[0, 0] = True
        labels, _ = scipy.ndimage.label(grid)  # default structure: 4-connectivity
        assert np.array_equal(reached[b, 0].numpy(), labels == labels[0, 0])


def test_mouth_boxes_use_integer_official_rules():
    outer = torch.tensor([[[100.3, 160.0], [120.0, 150.2], [140.9, 161.0], [120.0, 170.2]]])  # (col, row)
    corners = torch.tensor([[[100.3, 160.0], [140.9, 161.0]]])
    rows, cols = official_mouth_boxes(outer, corners, 1.2)
    # side = int(1.2 * 40.6) = 48, h = 24, centre (col 120.6, row 160.5)
    assert rows.tolist() == [[136, 184]] and cols.tolist() == [[96, 144]]


def test_crop_and_paste_match_torch_antialiased_resizes():
    image = torch.randn(2, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    rows, cols = torch.tensor([[5, 35], [10, 16]]), torch.tensor([[2, 32], [20, 26]])
    crops = crop_resize(image, rows, cols, 16)
    patch = torch.randn(2, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    pasted = paste_resize(image, patch, rows, cols)
    for b in range(2):
        r0, r1, c0, c1 = rows[b, 0], rows[b, 1], cols[b, 0], cols[b, 1]
        ref = F.interpolate(image[b:b + 1, :, r0:r1, c0:c1], size=(16, 16), mode="bilinear", antialias=True)
        assert torch.allclose(crops[b:b + 1], ref, atol=1e-5)
        expected = image[b:b + 1].clone()
        expected[:, :, r0:r1, c0:c1] = F.interpolate(patch[b:b + 1], size=(int(r1 - r0),) * 2, mode="bilinear",
                                                     antialias=True)
        assert torch.allclose(pasted[b:b + 1], expected, atol=1e-5)


def test_official_input_is_vertices_then_68_landmarks(head):
    vertices = head(HeadParams.neutral(head, 2)).vertices
    landmarks = torch.randn(2, 68, 3)
    v, lms, outer, corners = official_head_inputs(head, torch.cat([vertices, landmarks], 1))
    assert torch.equal(v, vertices) and torch.equal(lms, landmarks)
    assert outer.tolist() == list(range(48, 60)) and corners.tolist() == [48, 54]
    with pytest.raises(Exception, match="needs 3877 vertices, or 3877 \\+ 68"):
        official_head_inputs(head, torch.zeros(1, 10, 3))
