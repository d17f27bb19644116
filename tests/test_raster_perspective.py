"""Perspective views from EG3D cameras: pixel placement, perspective-correct barycentrics, culling, clipping."""

import math

import torch

from next3d.raster import camera_clip, rasterize
from next3d.raster.inputs import check_raster_inputs
from next3d.raster.reference import screen_faces
from next3d.raster.testing import icosphere
from next3d.render.camera import intrinsics, orbit_pose, project
from next3d.render.rays import camera_rays

NEAR, FAR = 0.5, 10.0


def cameras():
    return orbit_pose(torch.tensor([0.0, 0.4, -0.7]), torch.tensor([0.0, 0.25, -0.1])), intrinsics(batch=3)


def test_projected_points_land_at_u_times_width():
    cam2world, k = cameras()
    points = (torch.rand(3, 50, 3, generator=torch.Generator().manual_seed(0)) - 0.5) * 0.6
    uv, _ = project(points, cam2world, k)
    clip = camera_clip(points, cam2world, k, near=NEAR, far=FAR).clip
    ndc = clip[..., :2] / clip[..., 3:]
    torch.testing.assert_close((ndc + 1) / 2, uv, rtol=0, atol=1e-5)
    # ... and a small triangle around the point a pixel's centre ray passes through covers exactly that pixel,
    # whatever the aspect ratio.
    for height, width in [(24, 40), (31, 17)]:
        origins, dirs = camera_rays(cam2world[1:2], k[1:2], (height, width))
        for r, c in [(0, 0), (height // 2, 3), (height - 1, width - 1)]:
            p = origins[0, r * width + c] + 2.0 * dirs[0, r * width + c]
            eps = 0.2 * 2.0 / (k[0, 0, 0].item() * max(height, width))  # ~0.2 pixel at distance 2
            right, down = cam2world[1, :3, 0], cam2world[1, :3, 1]
            tri = torch.stack([p - eps * right - eps * down, p + eps * right, p + eps * down])[None]
            frags = rasterize(camera_clip(tri, cam2world[1:2], k[1:2], near=NEAR, far=FAR).clip,
                              torch.tensor([[0, 1, 2]]), (height, width))
            assert torch.nonzero(frags.mask[0]).tolist() == [[r, c]]


def random_triangles(n, seed):
    gen = torch.Generator().manual_seed(seed)
    centres = (torch.rand(n, 1, 3, generator=gen) - 0.5) * torch.tensor([0.8, 0.8, 0.8])
    tris = centres + (torch.rand(n, 3, 3, generator=gen) - 0.5) * 0.5
    return tris.reshape(1, 3 * n, 3), torch.arange(3 * n).reshape(n, 3)


def ray_hits(origins, dirs, tri):
    """Ray/triangle-plane intersection (float64): distance t and barycentrics (P, F) / (P, F, 3)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    e1, e2 = b - a, c - a
    pvec = torch.linalg.cross(dirs[:, None], e2[None], dim=-1)
    det = (e1[None] * pvec).sum(-1)
    tvec = origins[:, None] - a[None]
    u = (tvec * pvec).sum(-1) / det
    qvec = torch.linalg.cross(tvec, e1[None].expand_as(tvec), dim=-1)
    v = (dirs[:, None] * qvec).sum(-1) / det
    t = (e2[None] * qvec).sum(-1) / det
    return t, torch.stack([1 - u - v, u, v], -1)


def test_perspective_barycentrics_and_depth_match_ray_casting():
    cam2world, k = cameras()
    world, faces = random_triangles(12, seed=1)
    height, width = 40, 48
    for i in range(3):
        frags = rasterize(camera_clip(world, cam2world[i:i + 1], k[i:i + 1], near=NEAR, far=FAR).clip, faces,
                          (height, width))
        origins, dirs = camera_rays(cam2world[i:i + 1], k[i:i + 1], (height, width))
        t, bary = ray_hits(origins[0].double(), dirs[0].double(), world[0, faces].double())
        covered = frags.mask[0].reshape(-1)
        face = frags.face_id[0].reshape(-1).long()
        assert covered.sum() > 200
        pix = torch.nonzero(covered).squeeze(1)
        hit_bary = bary[pix, face[pix]]
        torch.testing.assert_close(frags.bary[0].reshape(-1, 3)[pix].double(), hit_bary, rtol=0, atol=2e-4)
        # NDC depth of the hit: z_ndc = (f + n)/(f - n) - 2 f n / ((f - n) z_cam), z_cam along the optical axis.
        forward = cam2world[i, :3, 2].double()
        z_cam = t[pix, face[pix]] * (dirs[0, pix].double() @ forward)
        z_ndc = (FAR + NEAR) / (FAR - NEAR) - 2 * FAR * NEAR / ((FAR - NEAR) * z_cam)
        torch.testing.assert_close(frags.depth[0].reshape(-1)[pix].double(), z_ndc, rtol=0, atol=1e-5)
        # The chosen face is the nearest one the ray clearly passes through.
        clearly_inside = (bary[pix] > 1e-3).all(-1) & (t[pix] > 0)
        nearest = torch.where(clearly_inside, t[pix], math.inf).amin(-1)
        assert (t[pix, face[pix]] <= nearest + 1e-6).all()


def test_camera_cull_drops_exactly_the_faces_turned_away():
    cam2world, k = cameras()
    v, faces = icosphere(3, 0.3)
    views = camera_clip(v[None], cam2world, k, near=NEAR, far=FAR)
    assert views.cull.tolist() == [1, 1, 1]  # OpenCV cameras flip y: front faces have negative NDC area
    kept = screen_faces(check_raster_inputs(views.clip, faces, 64, views.cull, True)).valid.reshape(3, -1)
    corners = v[faces]
    normals = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    for i in range(3):
        facing = (normals * (cam2world[i, :3, 3] - corners[:, 0])).sum(-1)
        clear = facing.abs() > 1e-6
        assert torch.equal(kept[i][clear], facing[clear] > 0)


def test_faces_outside_near_far_or_behind_the_camera_are_dropped():
    cam2world, k = cameras()
    cam2world, k = cam2world[:1], k[:1]
    forward, origin = cam2world[0, :3, 2], cam2world[0, :3, 3]
    right, down = cam2world[0, :3, 0], cam2world[0, :3, 1]

    def tri_at(distance):
        centre = origin + forward * distance
        return torch.stack([centre - 0.1 * right - 0.1 * down, centre + 0.2 * right, centre + 0.2 * down])

    tris = torch.stack([tri_at(2.0), tri_at(FAR * 1.5), tri_at(NEAR * 0.5), tri_at(-2.0)]).reshape(1, 12, 3)
    faces = torch.arange(12).reshape(4, 3)
    frags = rasterize(camera_clip(tris, cam2world, k, near=NEAR, far=FAR).clip, faces, 32)
    assert set(frags.face_id.unique().tolist()) == {-1, 0}
    # Behind the camera alone: nothing is drawn (no mirrored image through w < 0).
    behind = rasterize(camera_clip(tris, cam2world, k, near=NEAR, far=FAR).clip, faces[3:], 32)
    assert not behind.mask.any()
