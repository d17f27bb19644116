"""GPU: the CUDA kernel agrees with the PyTorch reference (face ids bit-equal), builds, falls back, never syncs."""

import warnings

import pytest
import torch

from next3d.raster import (
    backend_available,
    camera_clip,
    fill_polygon,
    interpolate,
    plane_views,
    rasterize,
    sample_texture,
)
from next3d.raster.cuda_backend import cuda_extension
from next3d.raster.testing import icosphere, random_soup
from next3d.render.camera import intrinsics, orbit_pose
from next3d.torch_utils.custom_ops import CustomOpWarning, build_extension

pytestmark = pytest.mark.gpu


def both(clip, faces, res, cull="none"):
    clip, faces = clip.cuda(), faces.cuda()
    cull = cull.cuda() if isinstance(cull, torch.Tensor) else cull
    return (rasterize(clip, faces, res, cull=cull, backend="cuda"),
            rasterize(clip, faces, res, cull=cull, backend="reference"))


def assert_agree(cuda, ref, min_coverage=0.05):
    assert cuda.backend == "cuda" and ref.backend == "reference"
    assert torch.equal(cuda.face_id, ref.face_id), f"{(cuda.face_id != ref.face_id).sum().item()} pixels differ"
    mask = ref.mask
    assert mask.float().mean() >= min_coverage
    torch.testing.assert_close(cuda.bary, ref.bary, rtol=0, atol=1e-6)
    torch.testing.assert_close(cuda.depth[mask], ref.depth[mask], rtol=0, atol=1e-6)
    assert torch.isinf(cuda.depth[~mask]).all() and (cuda.bary[~mask] == 0).all()


def test_cuda_backend_builds_and_is_chosen_automatically():
    assert backend_available("cuda"), "the CUDA rasterizer did not build: see the CustomOpWarning above"
    clip, faces = random_soup(10)
    assert rasterize(clip.cuda(), faces.cuda(), 16).backend == "cuda"


@pytest.mark.parametrize("n_faces, batch, res, size, spread, seed", [
    (1, 1, (16, 16), 1.0, 0.3, 2),  # one large, centred triangle (covers ~14% of the view)
    (50, 2, (64, 48), 0.3, 1.2, 50), (500, 3, (100, 160), 0.2, 1.2, 500), (5000, 2, (256, 256), 0.05, 1.2, 5000),
    (2000, 1, (37, 511), 0.1, 1.2, 2000), (40, 2, (128, 96), 1.5, 1.2, 40),  # the last: huge faces
])
def test_random_soups_agree(n_faces, batch, res, size, spread, seed):
    gen = torch.Generator().manual_seed(seed)
    clip, faces = random_soup(n_faces, batch, spread=spread, size=size, generator=gen)
    assert_agree(*both(clip, faces, res))


def test_exact_ties_shared_edges_and_pixel_centre_vertices_agree():
    # Vertices on a 1/64 grid put vertices and edges exactly on pixel centres at 64 and 128 pixels; duplicated
    # faces tie exactly in depth everywhere.
    gen = torch.Generator().manual_seed(7)
    clip, faces = random_soup(3000, 2, size=0.2, generator=gen)
    clip[..., 2] = torch.round(clip[..., 2] * 4) / 4  # few distinct depths: many exact ties
    tripled = torch.cat([faces, faces, faces.flip(1)])  # exact duplicates, then reversed winding
    for res in [(64, 64), (128, 128), (64, 192)]:
        cuda, ref = both(clip, tripled, res)
        assert_agree(cuda, ref)
        duplicate = (cuda.face_id >= 3000) & (cuda.face_id < 6000)
        assert not duplicate.any()  # an exact duplicate ties everywhere and loses to the lower id


def test_cull_modes_and_per_view_signs_agree():
    gen = torch.Generator().manual_seed(3)
    clip, faces = random_soup(800, 3, generator=gen)
    for cull in ["none", "positive", "negative", torch.tensor([1, -1, 0], dtype=torch.int32)]:
        assert_agree(*both(clip, faces, (96, 80), cull))


def test_perspective_views_agree():
    v, faces = icosphere(4, 0.35)
    cam2world = orbit_pose(torch.linspace(-1.2, 1.2, 5), torch.linspace(-0.4, 0.4, 5), radius=1.2)
    views = camera_clip(v[None], cam2world, intrinsics(batch=5), near=0.2, far=5.0)
    for res in [(64, 64), (200, 120)]:
        assert_agree(*both(views.clip, faces, res, views.cull))
        assert_agree(*both(views.clip, faces, res))


def test_int32_and_int64_faces_and_cpu_reference_agree():
    gen = torch.Generator().manual_seed(5)
    clip, faces = random_soup(1000, 2, generator=gen)
    cuda64, _ = both(clip, faces, 96)
    cuda32, _ = both(clip, faces.int(), 96)
    cpu = rasterize(clip, faces, 96, backend="reference")
    assert torch.equal(cuda64.face_id, cuda32.face_id)
    assert torch.equal(cuda64.face_id.cpu(), cpu.face_id)
    torch.testing.assert_close(cuda64.bary.cpu(), cpu.bary, rtol=0, atol=1e-6)


def default_head_world(batch):
    from next3d.head import HeadParams, load_default_head

    head = load_default_head()
    params = HeadParams.neutral(head, batch)
    params.jaw[:, 0] = torch.linspace(0.0, 0.3, batch)  # open the mouth progressively
    return head.to_world(head(params).vertices), head


@pytest.mark.parametrize("batch, res", [(1, 256), (8, 256), (2, 64)])
def test_default_head_plane_views_agree(batch, res):
    world, head = default_head_world(batch)
    views = plane_views(world.cuda())
    faces = head.faces.cuda()
    cuda, ref = both(views.clip, faces, res, views.cull)
    assert_agree(cuda, ref)
    cpu = rasterize(views.clip.cpu(), faces.cpu(), res, cull=views.cull.cpu())
    assert torch.equal(cpu.face_id, cuda.face_id.cpu())


def test_unchecked_out_of_range_faces_are_skipped_not_read():
    clip, faces = random_soup(20)
    bad = torch.cat([faces, torch.tensor([[0, 1, 10**6]])]).cuda()
    frags = rasterize(clip.cuda(), bad, 32, backend="cuda", check=False)
    torch.cuda.synchronize()
    assert torch.equal(frags.face_id, rasterize(clip.cuda(), faces.cuda(), 32, backend="cuda").face_id)


def test_empty_inputs_on_cuda():
    clip, faces = random_soup(3)
    frags = rasterize(clip.cuda(), faces[:0].cuda(), (5, 7), backend="cuda")
    assert (frags.face_id == -1).all() and torch.isinf(frags.depth).all()


def test_plane_pipeline_runs_without_a_single_device_sync():
    world, head = default_head_world(2)
    world = world.cuda()
    faces, uvs, uv_faces = head.faces.cuda(), head.uvs.cuda(), head.uv_faces.cuda()
    texture = torch.randn(2, 32, 256, 256, device="cuda", requires_grad=True)
    lips = world[:, :12, :2] * 2  # any polygon; the point is where it is computed
    rasterize(plane_views(world).clip, faces, 8)  # build/load and warm up outside the checked region
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        views = plane_views(world)
        frags = rasterize(views.clip, faces, 256, cull=views.cull, check=False)
        uv = interpolate(uvs, frags, uv_faces, check=False)
        features = sample_texture(texture, uv, frags.mask)
        mouth = fill_polygon(lips, 256)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert frags.backend == "cuda" and features.shape == (8, 32, 256, 256) and mouth.shape == (2, 256, 256)
    features.sum().backward()
    assert texture.grad.abs().sum() > 0


def test_fill_polygon_on_cuda_matches_cpu():
    gen = torch.Generator().manual_seed(0)
    polygon = torch.rand(3, 11, 2, generator=gen) * 1.6 - 0.8
    assert torch.equal(fill_polygon(polygon.cuda(), (64, 80)).cpu(), fill_polygon(polygon, (64, 80)))


def test_failed_build_warns_once_and_returns_none(tmp_path):
    bad = tmp_path / "bad.cu"
    bad.write_text("__global__ void broken( { this is not CUDA }\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert build_extension("next3d_bad_op", [bad], cache_dir=tmp_path / "cache") is None
    messages = [str(w.message) for w in caught if issubclass(w.category, CustomOpWarning)]
    assert len(messages) == 1 and "building CUDA extension 'next3d_bad_op' failed" in messages[0]
    logs = list((tmp_path / "cache").glob("next3d_bad_op-*/build_error.log"))
    assert len(logs) == 1 and "error" in logs[0].read_text().lower()


def test_real_build_is_cached_and_uses_the_returned_module(tmp_path):
    module = cuda_extension()
    assert module is not None and hasattr(module, "rasterize_forward")
    from next3d.raster.cuda_backend import CUDA_FLAGS, HEADERS, SOURCES

    again = build_extension("next3d_raster", SOURCES, headers=HEADERS, extra_cuda_cflags=CUDA_FLAGS)
    assert again is not None and hasattr(again, "rasterize_forward")  # cached build dir, loads again
