"""Bad inputs give one BadInputError naming what is wrong and where; backend choice on a CPU machine."""

import pytest
import torch

from next3d.errors import BadInputError
from next3d.raster import (
    backend_available,
    camera_clip,
    fill_polygon,
    interpolate,
    plane_views,
    rasterize,
    sample_texture,
)
from next3d.raster.rasterize import choose_backend

CLIP = torch.tensor([[[-1, -1, 0, 1], [1, -1, 0, 1], [-1, 1, 0, 1.0]]])
FACES = torch.tensor([[0, 1, 2]])


@pytest.mark.parametrize("clip, faces, res, kwargs, message", [
    (CLIP[0], FACES, 8, {}, "clip must be (B, N, 4)"),
    (CLIP[..., :3], FACES, 8, {}, "clip must be (B, N, 4)"),
    (CLIP.double(), FACES, 8, {}, "clip must be float32"),
    (CLIP, FACES.float(), 8, {}, "faces must be int32 or int64"),
    (CLIP, FACES[0], 8, {}, "faces must be (F, 3)"),
    (CLIP, torch.tensor([[0, 1, 812]]), 8, {}, "faces index vertex 812 (face 0) but the mesh has 3 vertices"),
    (CLIP, torch.tensor([[0, 1, 2], [0, -1, 2]]), 8, {}, "negative index -1 (face 1)"),
    (CLIP, FACES, (8, 0), {}, "resolution (8, 0)"),
    (CLIP, FACES, "big", {}, "resolution must be an int or (H, W)"),
    (CLIP, FACES, 8, {"cull": "back"}, "cull='back'"),
    (CLIP, FACES, 8, {"cull": torch.tensor([1, 1])}, "expected (1,): one sign per batch element"),
    (CLIP, FACES, 8, {"cull": torch.tensor([2])}, "cull[0] = 2"),
    (CLIP, FACES, 8, {"cull": torch.tensor([1.0])}, "cull tensor must be integer"),
    (CLIP, FACES, 8, {"backend": "opengl"}, "backend='opengl'"),
    (CLIP, FACES, 8, {"backend": "cuda"}, "backend='cuda' needs CUDA tensors"),
    (CLIP.numpy(), FACES, 8, {}, "must be torch tensors"),
])
def test_rasterize_rejects_bad_input(clip, faces, res, kwargs, message):
    with pytest.raises(BadInputError) as err:
        rasterize(clip, faces, res, **kwargs)
    assert message in str(err.value)
    assert str(err.value).startswith("rasterize: ")


def test_rasterize_names_the_vertex_with_nan():
    clip = CLIP.repeat(2, 1, 1)
    clip[1, 2, 0] = float("nan")
    with pytest.raises(BadInputError, match="NaN or Inf at batch element 1, vertex 2"):
        rasterize(clip, FACES, 8)
    frags = rasterize(clip, FACES, 8, check=False)  # unchecked: the face with a NaN vertex is simply dropped
    assert frags.mask[0].any() and not frags.mask[1].any()


def test_empty_face_list_gives_empty_fragments():
    frags = rasterize(CLIP, FACES[:0], (3, 5))
    assert frags.face_id.shape == (1, 3, 5) and (frags.face_id == -1).all() and torch.isinf(frags.depth).all()


def test_helpers_reject_bad_input():
    frags = rasterize(CLIP, FACES, 4)
    with pytest.raises(BadInputError, match="interpolate: attr_faces index entry 5"):
        interpolate(torch.zeros(3, 2), frags, torch.tensor([[0, 1, 5]]))
    with pytest.raises(BadInputError, match="interpolate: attr_faces has 2 faces"):
        interpolate(torch.zeros(3, 2), frags, torch.tensor([[0, 1, 2], [0, 1, 2]]))
    with pytest.raises(BadInputError, match="interpolate: attr batch 3 must divide"):
        interpolate(torch.zeros(3, 3, 2), frags)
    with pytest.raises(BadInputError, match="sample_texture: uv must be a float"):
        sample_texture(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 4, 3), None)
    with pytest.raises(BadInputError, match="sample_texture: texture batch 2 must divide"):
        sample_texture(torch.zeros(2, 2, 4, 4), torch.zeros(3, 4, 4, 2), None)
    with pytest.raises(BadInputError, match="sample_texture: mask must be"):
        sample_texture(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 4, 2), torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(BadInputError, match="fill_polygon: polygon needs >= 3"):
        fill_polygon(torch.zeros(1, 2, 2), 8)
    with pytest.raises(BadInputError, match="plane_views: world vertices must be a"):
        plane_views(torch.zeros(5, 3))
    with pytest.raises(BadInputError, match="plane_views: box_warp must be positive"):
        plane_views(torch.zeros(1, 5, 3), box_warp=0.0)
    with pytest.raises(BadInputError, match="camera_clip: need 0 < near < far"):
        camera_clip(torch.zeros(1, 5, 3), torch.eye(4)[None], torch.eye(3), near=1.0, far=0.5)
    with pytest.raises(BadInputError, match="camera_clip: 2 meshes for 1 cameras"):
        camera_clip(torch.zeros(2, 5, 3), torch.eye(4)[None], torch.eye(3))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine's behaviour")
def test_without_cuda_auto_uses_the_reference_and_cuda_is_unavailable():
    assert backend_available("reference") and not backend_available("cuda")
    assert choose_backend("auto", torch.device("cpu")) == "reference"
    assert rasterize(CLIP, FACES, 4).backend == "reference"
    with pytest.raises(BadInputError, match="unknown backend 'vulkan'"):
        backend_available("vulkan")
