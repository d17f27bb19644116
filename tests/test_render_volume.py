"""Ray sampling and importance volume rendering against analytic cases."""

import math

import torch

from next3d.render import camera
from next3d.render.rays import camera_rays
from next3d.render.triplane import sample_planes, plane_coordinates
from next3d.render.volume import RenderSettings, render_rays


def test_centre_ray_points_at_pivot_and_rays_are_unit():
    pose = camera.orbit_pose(torch.tensor([0.3]), torch.tensor([-0.2]))
    origins, dirs = camera_rays(pose, camera.intrinsics(batch=1), 4)  # even size: centre between 4 pixels
    centre_dir = dirs[0].reshape(4, 4, 3)[1:3, 1:3].reshape(-1, 3).mean(0)
    to_pivot = torch.nn.functional.normalize(torch.tensor(camera.DEFAULT_PIVOT) - pose[0, :3, 3], dim=0)
    assert torch.allclose(torch.nn.functional.normalize(centre_dir, dim=0), to_pivot, atol=1e-5)
    assert torch.allclose(dirs.norm(dim=-1), torch.ones(1, 16))
    # Ray order is row-major: the second ray is one column to the right (camera +x).
    right = pose[0, :3, 0]
    assert torch.dot(dirs[0, 1] - dirs[0, 0], right) > 0


def test_rays_reproject_to_their_pixels():
    pose = camera.orbit_pose(torch.tensor([-0.5]), torch.tensor([0.25]), roll=0.2)
    k = camera.intrinsics(batch=1)
    origins, dirs = camera_rays(pose, k, (3, 5))
    uv, _ = camera.project(origins + 2.5 * dirs, pose, k)
    rows, cols = torch.meshgrid(torch.arange(3), torch.arange(5), indexing="ij")
    expected = torch.stack([(cols.reshape(-1) + 0.5) / 5, (rows.reshape(-1) + 0.5) / 3], dim=-1)
    assert torch.allclose(uv[0], expected, atol=1e-5)


def slab_field(z0, z1, density, colour):
    """Density `density` (after softplus(sigma - 1)) between depths z0..z1 along -z, coloured `colour`."""
    sigma_in = math.log(math.expm1(density)) + 1.0  # inverse of softplus(s - 1)

    def field(points, dirs):
        inside = (points[..., 2] <= z0) & (points[..., 2] >= z1)
        sigma = torch.where(inside, torch.tensor(sigma_in), torch.tensor(-30.0))[..., None]
        return sigma, colour.expand(*points.shape[:2], colour.shape[-1])
    return field


def test_opaque_slab_gives_its_depth_colour_and_full_alpha():
    origins = torch.tensor([[[0.0, 0.0, 2.7]]])
    dirs = torch.tensor([[[0.0, 0.0, -1.0]]])
    colour = torch.tensor([0.25, 0.5, 1.0])
    out = render_rays(slab_field(0.1, -0.5, 200.0, colour), origins, dirs, RenderSettings())
    assert out.weight_sum.item() > 0.999
    assert torch.allclose(out.features[0, 0], colour * 2 - 1, atol=2e-3)
    # Surface at z = 0.1: 2.6 units from the camera; importance samples pin it to within a bin fraction.
    assert abs(out.depth.item() - 2.6) < 0.01


def test_semi_transparent_slab_matches_beer_lambert():
    origins = torch.tensor([[[0.0, 0.0, 2.7]]])
    dirs = torch.tensor([[[0.0, 0.0, -1.0]]])
    settings = RenderSettings(samples=400, importance_samples=0)
    out = render_rays(slab_field(0.2, -0.2, 2.0, torch.ones(1)), origins, dirs, settings)
    expected = 1 - math.exp(-2.0 * 0.4)
    assert abs(out.weight_sum.item() - expected) < 0.01


def test_empty_space_is_transparent_and_black_or_white():
    origins, dirs = torch.zeros(1, 2, 3), torch.tensor([[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])
    field = lambda p, d: (torch.full((*p.shape[:2], 1), -40.0), torch.full((*p.shape[:2], 3), 0.7))
    out = render_rays(field, origins, dirs, RenderSettings())
    assert out.weight_sum.max() < 1e-6
    assert torch.allclose(out.features, torch.full_like(out.features, -1.0), atol=1e-5)
    white = render_rays(field, origins, dirs, RenderSettings(white_back=True))
    assert torch.allclose(white.features, torch.ones_like(white.features), atol=1e-5)


def test_importance_samples_concentrate_at_a_thin_surface():
    seen = []
    def field(points, dirs):
        seen.append(points[..., 2].clone())
        thin = (points[..., 2] - 0.0).abs() < 0.01
        return torch.where(thin, 50.0, -30.0)[..., None], torch.ones(*points.shape[:2], 1)
    render_rays(field, torch.tensor([[[0.0, 0.0, 2.7]]]), torch.tensor([[[0.0, 0.0, -1.0]]]), RenderSettings())
    coarse, fine = seen
    near = lambda z: ((z - 0.0).abs() < 0.05).float().mean()
    assert near(fine) > 3 * near(coarse)


def test_deterministic_without_perturb_and_random_with_it():
    field = slab_field(0.1, -0.3, 3.0, torch.ones(3) * 0.5)
    o, d = torch.tensor([[[0.0, 0.0, 2.7]]]), torch.tensor([[[0.0, 0.0, -1.0]]])
    a, b = render_rays(field, o, d, RenderSettings()), render_rays(field, o, d, RenderSettings())
    assert torch.equal(a.depth, b.depth)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    p1 = render_rays(field, o, d, RenderSettings(perturb=True), generator=g1)
    p2 = render_rays(field, o, d, RenderSettings(perturb=True), generator=g2)
    assert not torch.equal(p1.depth, p2.depth)


def test_plane_sampling_reads_the_axes_of_each_plane():
    # Plane k holds a ramp along its u axis (columns); sampling returns the point's coordinate on that axis.
    res = 64
    ramp = ((torch.arange(res) + 0.5) / res - 0.5)  # world coordinate of each column centre (box_warp 1)
    planes = ramp.expand(res, res).expand(1, 3, 1, res, res).clone()
    p = torch.tensor([[[0.11, -0.23, 0.31]]])
    feats = sample_planes(planes, p)[0, :, 0, 0]  # u axes: x, x, z
    assert torch.allclose(feats, torch.tensor([0.11, 0.11, 0.31]), atol=1e-5)
    rows = planes.transpose(-1, -2)  # ramp along v (rows): y, z, y
    feats_v = sample_planes(rows, p)[0, :, 0, 0]
    assert torch.allclose(feats_v, torch.tensor([-0.23, 0.31, -0.23]), atol=1e-5)
    assert plane_coordinates(p, 2.0).abs().max() <= 0.32
