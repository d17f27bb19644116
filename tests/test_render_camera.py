"""Camera convention: look-at rays land at the image centre, labels round-trip, mirroring is consistent."""

import math

import numpy as np

import pytest
import torch

from next3d.errors import BadInputError
from next3d.render import camera


def test_pivot_projects_to_image_centre_from_any_orbit_pose():
    yaw = torch.tensor([0.0, 0.6, -0.9, 0.2])
    pitch = torch.tensor([0.0, -0.3, 0.4, 0.1])
    pose = camera.orbit_pose(yaw, pitch, roll=torch.tensor([0.0, 0.0, 0.3, -0.5]))
    k = camera.intrinsics(batch=4)
    pivot = torch.tensor(camera.DEFAULT_PIVOT)
    # A point anywhere on the look-at ray beyond the pivot also lands at the centre.
    beyond = pivot + 0.5 * torch.nn.functional.normalize(pivot - pose[:, :3, 3], dim=-1)
    pts = torch.stack([pivot.expand(4, 3), beyond], dim=1)
    uv, depth = camera.project(pts, pose, k)
    assert torch.allclose(uv, torch.full_like(uv, 0.5), atol=1e-5)
    assert (depth > 0).all()


def test_frontal_camera_matches_eg3d_default_and_axes():
    pose = camera.orbit_pose(0.0, 0.0)[0]
    assert torch.allclose(pose[:3, 3], torch.tensor([0.0, 0.0, 2.7]))
    # OpenCV axes: x right = world +x, y down = world -y (nearly, the pivot is 0.2 ahead), z toward -z.
    assert pose[0, 0] > 0.99 and pose[1, 1] < -0.99 and pose[2, 2] < -0.99
    assert torch.allclose(pose, camera.eg3d_lookat_pose(math.pi / 2, math.pi / 2)[0], atol=1e-6)
    # Subject's left (+x) appears on the image right; up (+y) appears at the top.
    uv, _ = camera.project(torch.tensor([[[0.3, 0.0, 0.2], [0.0, 0.3, 0.2]]]), pose[None], camera.intrinsics(batch=1))
    assert uv[0, 0, 0] > 0.5 and uv[0, 1, 1] < 0.5


def test_positive_yaw_moves_camera_to_subjects_left_and_pitch_up():
    pose = camera.orbit_pose(torch.tensor([0.5, 0.0]), torch.tensor([0.0, 0.4]))
    assert pose[0, 0, 3] > 0 and pose[1, 1, 3] > 0
    yaw, pitch, radius = camera.pose_angles(pose)
    assert torch.allclose(yaw, torch.tensor([0.5, 0.0]), atol=1e-6)
    assert torch.allclose(pitch, torch.tensor([0.0, 0.4]), atol=1e-6)
    assert torch.allclose(radius, torch.full((2,), 2.7))


def test_label_round_trip_and_focal():
    pose = camera.orbit_pose(torch.tensor([0.3, -0.2]), torch.tensor([0.1, 0.05]))
    label = camera.make_label(pose)
    assert label.shape == (2, 25)
    pose2, k2 = camera.split_label(label)
    assert torch.equal(pose2, pose)
    assert k2[0, 0, 0] == pytest.approx(4.2647) and k2[0, 0, 2] == 0.5
    assert camera.fov_to_focal(camera.DEFAULT_FOV_DEG) == pytest.approx(4.2647, abs=3e-3)
    assert camera.focal_to_fov(camera.fov_to_focal(25.0)) == pytest.approx(25.0)


def test_mirror_label_reflects_projection():
    pose = camera.orbit_pose(torch.tensor([0.4]), torch.tensor([0.2]))
    label = camera.make_label(pose)
    mirrored = camera.mirror_label(label)
    pts = torch.tensor([[[0.1, 0.2, 0.3], [-0.2, 0.0, 0.1]]])
    uv, z = camera.project(pts, *camera.split_label(label))
    pts_m = pts * torch.tensor([-1.0, 1.0, 1.0])
    uv_m, z_m = camera.project(pts_m, *camera.split_label(mirrored))
    assert torch.allclose(uv_m[..., 0], 1 - uv[..., 0], atol=1e-5)
    assert torch.allclose(uv_m[..., 1], uv[..., 1], atol=1e-5)
    assert torch.allclose(z, z_m, atol=1e-5)
    assert torch.allclose(camera.mirror_label(mirrored), label, atol=1e-6)


@pytest.mark.parametrize("bad, msg", [
    (torch.zeros(24), "25 numbers"),
    (torch.full((25,), float("nan")), "NaN"),
    (torch.cat([torch.eye(4).reshape(-1) * 2, camera.intrinsics().reshape(-1)]), "orthonormal"),
])
def test_bad_labels_are_refused_with_a_clear_message(bad, msg):
    with pytest.raises(BadInputError, match=msg):
        camera.split_label(bad, where="cameras.json entry 3")


@pytest.mark.gpu
def test_label_helpers_keep_tensors_on_the_gpu():
    label = camera.make_label(camera.orbit_pose(0.3, 0.1)).cuda()
    pose, k = camera.split_label(label)
    assert pose.is_cuda and k.is_cuda
    assert camera.mirror_label(label).is_cuda


def test_orbit_label_agrees_with_the_batched_torch_path():
    """The render worker's per-frame label (plain floats) equals make_label(orbit_pose, intrinsics) in float32."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        yaw, pitch, roll = rng.uniform(-3.0, 3.0), rng.uniform(-1.5, 1.5), rng.uniform(-3.0, 3.0)
        radius, fov = rng.uniform(0.5, 10.0), rng.uniform(5.0, 60.0)
        pivot = tuple(rng.uniform(-0.5, 0.5, 3))
        fast = camera.orbit_label(yaw, pitch, radius, roll, fov, pivot)
        reference = camera.make_label(camera.orbit_pose(yaw, pitch, radius, pivot, roll),
                                      camera.intrinsics(camera.fov_to_focal(fov), batch=1))[0].numpy()
        assert fast.dtype == np.float32 and fast.shape == (25,)
        np.testing.assert_allclose(fast, reference, rtol=0, atol=2e-5 * max(1.0, radius))
