"""Pictures made from generator tensors: each render type must be viewable and show what it claims."""

import numpy as np
import pytest
import torch

from next3d.capture import images
from next3d.capture.jobs import encode_png, next_free_path, save_png


def test_signed_images_map_to_the_full_byte_range():
    img = torch.tensor([-1.0, 0.0, 1.0]).reshape(3, 1, 1).expand(3, 2, 2)
    out = images.signed_to_uint8(img)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == (0, 128, 255)


def test_depth_is_bright_near_and_background_outside_the_head():
    depth = torch.linspace(2.3, 3.2, 64).reshape(1, 8, 8)
    alpha = torch.ones(1, 8, 8)
    alpha[:, :, :2] = 0
    rgb = images.depth_to_uint8(depth, alpha)
    near, far = rgb[0, 2].astype(int).sum(), rgb[7, 7].astype(int).sum()
    assert near > far
    assert (rgb[:, :2] == images.BACKGROUND).all()


def test_feature_maps_show_structure_with_stable_colours():
    f = torch.zeros(32, 16, 16)
    f[:, :, 8:] = torch.randn(32, 1, 1)  # two regions with different features
    rgb = images.features_to_uint8(f)
    assert not np.array_equal(rgb[0, 0], rgb[0, 15])
    assert np.array_equal(rgb, images.features_to_uint8(f.clone()))  # deterministic (no colour flicker)


def test_planes_are_shown_side_by_side_with_separators():
    planes = torch.randn(3, 16, 8, 8)
    rgb = images.planes_to_uint8(planes)
    assert rgb.shape == (8, 24, 3)
    assert (rgb[:, 8] == 255).all() and (rgb[:, 16] == 255).all()


def test_overlay_drawing_marks_exactly_the_segment_and_points():
    img = np.zeros((20, 20, 3), np.uint8)
    images.draw_segments(img, np.array([[0.0, 0.0]]), np.array([[19.0, 19.0]]), (255, 0, 0))
    lit = np.argwhere(img[..., 0] > 0)
    assert len(lit) == 20 and (lit[:, 0] == lit[:, 1]).all()
    images.draw_points(img, np.array([[5.0, 15.0], [100.0, 100.0]]), (0, 255, 0), radius=1)
    assert (img[14:17, 4:7, 1] == 255).all() and img[..., 1].sum() == 9 * 255  # off-image point skipped


def test_png_writes_are_atomic_and_numbered(tmp_path):
    image = (np.arange(4 * 6 * 3) % 256).astype(np.uint8).reshape(4, 6, 3)
    first = next_free_path(tmp_path, "seed0001", ".png")
    save_png(first, image)
    assert next_free_path(tmp_path, "seed0001", ".png").name == "seed0001-0001.png"
    import imageio.v3 as iio

    assert np.array_equal(iio.imread(first), image)
    assert encode_png(image)[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_pictures_reach_the_host_unchanged_through_page_locked_memory():
    image = torch.rand(3, 512, 512, device="cuda") * 2.2 - 1.1  # beyond [-1, 1] too: clamped
    fast = images.signed_to_uint8(image)
    reference = images.signed_to_uint8(image.cpu())
    assert fast.shape == (512, 512, 3) and fast.dtype == np.uint8 and fast.flags.c_contiguous
    assert np.array_equal(fast, reference)
