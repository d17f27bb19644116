"""What the inversion accepts as a photo, a mask, a camera and settings, and the one-line errors for the rest."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from next3d.capture.jobs import save_png
from next3d.errors import BadInputError
from next3d.invert.camera_file import camera_document, read_camera
from next3d.invert.camera_fit import OrbitCamera
from next3d.invert.image_input import load_target
from next3d.invert.losses import psnr_value
from next3d.invert.settings import InversionSettings


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A picture with a bright blob in the middle over a textured background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.exp(-(((yy - h / 2) / (h / 5)) ** 2 + ((xx - w / 2) / (w / 6)) ** 2))
    image = rng.integers(0, 60, (h, w, 3)) + (blob[..., None] * [190, 150, 120])
    return np.clip(image, 0, 255).astype(np.uint8)


def test_a_non_square_photo_is_centre_cropped_and_resized_with_a_message(tmp_path):
    photo = _photo(90, 150)
    save_png(tmp_path / "p.png", photo)
    target = load_target(tmp_path / "p.png", 64)
    assert target.image.shape == (1, 3, 64, 64) and target.mask.shape == (1, 1, 64, 64)
    assert float(target.image.min()) >= -1 and float(target.image.max()) <= 1
    assert any("150x90 is not square; centre-cropped to 90x90" in n for n in target.notes)
    assert any("resized 90x90 -> 64x64" in n for n in target.notes)
    # the crop is the centre: the blob's brightest column stays in the middle
    column = target.image[0].mean((0, 1))
    assert abs(int(column.argmax()) - 32) <= 3


def test_a_photo_of_the_right_size_is_taken_as_is(tmp_path):
    photo = _photo(64, 64)
    save_png(tmp_path / "p.png", photo)
    target = load_target(tmp_path / "p.png", 64)
    assert target.notes == []
    assert np.array_equal(((target.image[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy(), photo)


@pytest.mark.parametrize("content, message", [
    (b"hello, I am text\n", "not an image file"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "not an image file"),
])
def test_files_that_are_not_images_are_named(tmp_path, content, message):
    (tmp_path / "photo.png").write_bytes(content)
    with pytest.raises(BadInputError, match=message) as info:
        load_target(tmp_path / "photo.png", 64)
    assert "photo.png" in str(info.value)


def test_a_missing_photo_is_named(tmp_path):
    with pytest.raises(BadInputError, match=r"image .*nope\.png: no such file"):
        load_target(tmp_path / "nope.png", 64)


def test_a_uniform_picture_has_no_head_like_foreground(tmp_path):
    save_png(tmp_path / "flat.png", np.full((64, 64, 3), 128, np.uint8))
    with pytest.raises(BadInputError, match="no head-like foreground found"):
        load_target(tmp_path / "flat.png", 64)
    edges_only = np.full((64, 64, 3), 128, np.uint8)
    edges_only[:8] = 255  # structure only at the border, none in the centre where a head is expected
    save_png(tmp_path / "border.png", edges_only)
    with pytest.raises(BadInputError, match="centre is nearly uniform"):
        load_target(tmp_path / "border.png", 64)


def test_masks_white_is_used_and_must_match_the_photo(tmp_path):
    save_png(tmp_path / "p.png", _photo(80, 80))
    mask = np.zeros((80, 80, 3), np.uint8)
    mask[:, :40] = 255
    save_png(tmp_path / "m.png", mask)
    target = load_target(tmp_path / "p.png", 64, tmp_path / "m.png")
    assert float(target.mask[..., :, :30].min()) == 1.0 and float(target.mask[..., :, 34:].max()) == 0.0
    save_png(tmp_path / "small.png", mask[:60])
    with pytest.raises(BadInputError, match="80x60 pixels, but the image is 80x80"):
        load_target(tmp_path / "p.png", 64, tmp_path / "small.png")
    save_png(tmp_path / "black.png", np.zeros_like(mask))
    with pytest.raises(BadInputError, match="no white pixels"):
        load_target(tmp_path / "p.png", 64, tmp_path / "black.png")


def test_camera_files_round_trip_and_bad_ones_are_named(tmp_path):
    camera = OrbitCamera(yaw=0.3, pitch=-0.12, radius=2.6, roll=0.05)
    (tmp_path / "camera.json").write_text(json.dumps(camera_document(camera, given=False)))
    back = read_camera(tmp_path / "camera.json")
    assert all(math.isclose(getattr(back, k), getattr(camera, k), abs_tol=1e-5) for k in ("yaw", "pitch", "radius", "roll"))
    label = camera.label()[0].tolist()
    (tmp_path / "bare.json").write_text(json.dumps(label))
    assert math.isclose(read_camera(tmp_path / "bare.json").yaw, 0.3, abs_tol=1e-5)
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": [["a.png", OrbitCamera().label()[0].tolist()],
                                                                  ["me.png", label]]}))
    assert math.isclose(read_camera(tmp_path / "dataset.json", image_name="x/me.png").pitch, -0.12, abs_tol=1e-5)

    (tmp_path / "nan.json").write_text('{"label": [' + ", ".join(["NaN"] + ["0"] * 24) + "]}")
    with pytest.raises(BadInputError, match=r"nan\.json: label: contains NaN"):
        read_camera(tmp_path / "nan.json")
    (tmp_path / "short.json").write_text(json.dumps({"label": label[:24]}))
    with pytest.raises(BadInputError, match="expected 25 numbers"):
        read_camera(tmp_path / "short.json")
    (tmp_path / "broken.json").write_text("{label: ")
    with pytest.raises(BadInputError, match="broken.json: not valid JSON"):
        read_camera(tmp_path / "broken.json")
    with pytest.raises(BadInputError, match="without an entry for 'b.png'"):
        read_camera(tmp_path / "dataset.json", image_name="b.png")


@pytest.mark.parametrize("changes, message", [
    ({"latent_space": "z"}, "latent space 'z'"),
    ({"steps": -1}, "steps = -1"),
    ({"lr": float("nan")}, "lr = nan"),
    ({"init": "magic"}, "init 'magic'"),
    ({"yaw_candidates": ()}, "at least one yaw"),
])
def test_settings_name_the_bad_value(changes, message):
    with pytest.raises(BadInputError, match=message):
        InversionSettings(**changes).validate()


def test_psnr_counts_only_masked_pixels_of_the_saved_picture():
    a = torch.zeros(1, 3, 8, 8)
    b = a.clone()
    b[..., 4:] = 1.0  # off by 1 on the right half: mean squared error 0.5, peak-to-peak 2
    assert math.isclose(psnr_value(a, b), 10 * math.log10(4 / 0.5), rel_tol=1e-5)
    left = torch.zeros(1, 1, 8, 8)
    left[..., :4] = 1
    assert psnr_value(a, b, left) == 100.0  # identical where it counts
    assert math.isclose(psnr_value(a * 0 + 3.0, a * 0 + 1.0), 100.0)  # clamped as saved: 3 looks like 1
