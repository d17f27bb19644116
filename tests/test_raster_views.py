"""Tri-plane views: pixel alignment with the planes, which side each view sees, and back-face culling."""

import pytest
import torch

from next3d.raster import PLANE_OF_VIEW, PLANE_VIEW_NAMES, interpolate, plane_views, rasterize
from next3d.raster.inputs import check_raster_inputs
from next3d.raster.reference import screen_faces
from next3d.raster.testing import icosphere
from next3d.render.triplane import plane_coordinates, sample_planes

# Viewing direction of each plane view (the camera looks along it), from docs/conventions.md.
VIEW_DIRECTIONS = {"front": (0, 0, -1), "top": (0, -1, 0), "side_from_+x": (-1, 0, 0), "side_from_-x": (1, 0, 0)}


def spheres(box_warp=1.0):
    v, f = icosphere(3, 0.4 * box_warp)
    shift = torch.tensor([[0.0, 0.0, 0.0], [0.03, -0.02, 0.05]]) * box_warp
    return v[None] + shift[:, None], f


@pytest.mark.parametrize("box_warp", [1.0, 0.8])
def test_view_pixels_are_the_texels_grid_sample_reads(box_warp):
    world, faces = spheres(box_warp)
    res = 40
    views = plane_views(world, box_warp)
    frags = rasterize(views.clip, faces, res, cull=views.cull)
    points = interpolate(world, frags)  # (B*4, H, W, 3): world point seen at each pixel
    rows, cols = torch.meshgrid(torch.arange(res), torch.arange(res), indexing="ij")
    index_plane = (rows * res + cols).float()  # texel value = its own index
    for b in range(2):
        for v, plane in enumerate(PLANE_OF_VIEW):
            seen = frags.mask[b * 4 + v]
            p = points[b * 4 + v][seen][None]  # (1, P, 3)
            assert p.shape[1] > 300
            uv = plane_coordinates(p, box_warp)[0, plane]  # (P, 2) grid_sample coords on that plane
            torch.testing.assert_close((uv[:, 0] + 1) * res / 2 - 0.5, cols[seen].float(), rtol=0, atol=1e-4)
            torch.testing.assert_close((uv[:, 1] + 1) * res / 2 - 0.5, rows[seen].float(), rtol=0, atol=1e-4)
            planes = torch.zeros(1, 3, 1, res, res)
            planes[0, plane, 0] = index_plane
            sampled = sample_planes(planes, p, box_warp)[0, plane, :, 0]
            torch.testing.assert_close(sampled, index_plane[seen], rtol=0, atol=2e-2)


def test_each_view_sees_the_side_facing_its_camera():
    world, faces = spheres()
    views = plane_views(world[:1])
    frags = rasterize(views.clip, faces, 32, cull=views.cull)
    points = interpolate(world[:1], frags)
    for v, name in enumerate(PLANE_VIEW_NAMES):
        toward_camera = -(points[v][frags.mask[v]] @ torch.tensor(VIEW_DIRECTIONS[name], dtype=torch.float32))
        assert (toward_camera > 0.0).all(), name  # the near hemisphere of a sphere at the origin
        assert toward_camera.mean() > 0.25, name


def test_cull_signs_drop_exactly_the_back_faces():
    world, faces = spheres()
    views = plane_views(world)
    kept = screen_faces(check_raster_inputs(views.clip, faces, 64, views.cull, True)).valid.reshape(8, -1)
    corners = world[:, faces]  # (2, F, 3, 3)
    normals = torch.linalg.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0])
    for b in range(2):
        for v, name in enumerate(PLANE_VIEW_NAMES):
            facing = normals[b] @ -torch.tensor(VIEW_DIRECTIONS[name], dtype=torch.float32)
            clear = facing.abs() > 1e-6
            assert torch.equal(kept[b * 4 + v][clear], facing[clear] > 0), name


def test_culling_keeps_the_outside_coverage_and_inverted_culling_shows_the_inside():
    world, faces = spheres()
    views = plane_views(world)
    culled = rasterize(views.clip, faces, 48, cull=views.cull)
    unculled = rasterize(views.clip, faces, 48)
    inside = rasterize(views.clip, faces, 48, cull=-views.cull)
    assert torch.equal(culled.mask, unculled.mask)
    assert torch.equal(culled.face_id, unculled.face_id)  # a convex closed mesh: the nearest face faces you
    assert torch.equal(inside.mask, unculled.mask)
    assert (inside.depth[inside.mask] > culled.depth[culled.mask]).all()  # the far side
