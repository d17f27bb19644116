"""Files the visualizer and headless commands write and read: mp4 videos, expression sequences, view states."""

import json
import os

import numpy as np
import pytest

from next3d.capture.render_args import RenderArgs
from next3d.capture.sequence import load_head_sequence, save_head_sequence
from next3d.capture.state import load_state, orbit_from_label, save_state
from next3d.capture.video import CaptureCancelled, Mp4Writer, read_mp4, write_mp4
from next3d.errors import BadInputError, UnsafeFileError
from next3d.render.camera import orbit_label, validate_label


def _frames(n, h=31, w=45):
    return [np.full((h, w, 3), (i * 25) % 256, np.uint8) for i in range(n)]


def test_mp4_round_trip_keeps_frames_order_and_pads_odd_sizes(tmp_path):
    path = write_mp4(tmp_path / "clip.mp4", _frames(8), fps=12)
    frames, fps = read_mp4(path)
    assert frames.shape == (8, 32, 46, 3)  # yuv420p needs even sizes: padded by one row/column
    assert fps == pytest.approx(12)
    levels = frames[:, 10, 10].mean(axis=1)
    assert np.all(np.diff(levels) > 10)  # the frames come back in order (lossy codec: approximate values)
    assert abs(levels[3] - 75) < 8


def test_failed_or_cancelled_video_leaves_no_file(tmp_path):
    target = tmp_path / "v.mp4"
    with pytest.raises(CaptureCancelled):
        write_mp4(target, _frames(5), fps=10, cancelled=lambda: True)
    with pytest.raises(BadInputError, match="frame 1 is"):
        with Mp4Writer(target) as writer:
            writer.write(_frames(1)[0])
            writer.write(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(BadInputError, match="no frames"):
        write_mp4(target, [], fps=10)
    assert os.listdir(tmp_path) == []


def test_an_existing_video_survives_a_failed_rewrite(tmp_path):
    target = write_mp4(tmp_path / "v.mp4", _frames(3), fps=10)
    before = target.read_bytes()
    with pytest.raises(CaptureCancelled):
        write_mp4(target, _frames(5), fps=10, cancelled=lambda: True)
    assert target.read_bytes() == before


def test_sequence_round_trip_broadcasts_constants(tmp_path):
    path = save_head_sequence(tmp_path / "s.npz", {"jaw": np.linspace(0, 0.3, 6)[:, None] * [1, 0, 0],
                                                   "expression": np.ones(4)}, fps=12)
    seq = load_head_sequence(path)
    assert len(seq) == 6 and seq.fps == 12
    assert seq.frame(5)["jaw"] == pytest.approx((0.3, 0, 0))
    assert seq.frame(6) == seq.frame(0)  # playback loops
    assert seq.apply(RenderArgs(), 2).expression == (1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize("arrays, message", [
    ({"jaw": np.zeros((5, 2))}, "'jaw' has 2 values per frame, expected 3"),
    ({"jaw": np.zeros((5, 3)), "neck": np.zeros((4, 3))}, "disagree on the number of frames"),
    ({"mouth": np.zeros((5, 3))}, "unknown key"),
    ({"eyes": np.full((2, 6), np.nan)}, "NaN"),
    ({}, "no head parameters"),
])
def test_bad_sequences_are_named(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(BadInputError, match=message):
        load_head_sequence(tmp_path / "bad.npz")


def test_pickled_sequence_is_refused_without_running_it(tmp_path):
    np.savez(tmp_path / "evil.npz", jaw=np.array([{"x": 1}], dtype=object))
    with pytest.raises(UnsafeFileError):
        load_head_sequence(tmp_path / "evil.npz")


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_view_state_round_trip(tmp_path, suffix):
    args = RenderArgs(latent_x=3.5, latent_y=1.0, psi=0.5, cutoff=14, yaw=0.4, pitch=-0.2, roll=0.3, radius=3.1,
                      fov_deg=22.0, expression=(0.1, 0.2), jaw=(0.2, 0.0, 0.0), cond_yaw=None, mix_seed=9,
                      mix_start=2, mix_stop=5)
    loaded = load_state(save_state(tmp_path / f"view{suffix}", args), RenderArgs(checkpoint="other"))
    for name in ("latent_x", "latent_y", "psi", "cutoff", "cond_yaw", "mix_seed", "mix_start", "mix_stop",
                 "expression", "jaw"):
        assert getattr(loaded, name) == getattr(args, name), name
    for name in ("yaw", "pitch", "roll", "radius", "fov_deg"):
        assert getattr(loaded, name) == pytest.approx(getattr(args, name), abs=1e-5), name
    assert loaded.checkpoint == "other"  # the checkpoint is only taken when asked


def test_state_camera_is_a_valid_25d_eg3d_label(tmp_path):
    args = RenderArgs(yaw=0.25, pitch=0.1)
    doc = json.loads(save_state(tmp_path / "s.json", args).read_text())
    label = np.asarray(doc["camera"]["label"], np.float32)
    assert label.shape == (25,)
    validate_label(label)
    assert label[16] == pytest.approx(4.2647, abs=2e-3)  # EG3D's normalized focal for its default fov


def test_label_inversion_refuses_cameras_not_looking_at_the_pivot():
    label = orbit_label(0.3, 0.1, 2.7, 0.0, 18.837)
    assert orbit_from_label(label)["yaw"] == pytest.approx(0.3, abs=1e-5)
    with pytest.raises(BadInputError, match="away from the pivot"):
        orbit_from_label(label, pivot=(0.5, 0.0, 0.2))


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("kind"), "not a Next3D view state"),
    (lambda d: d["camera"].__setitem__("label", [0.0] * 24), "expected 25 numbers"),
    (lambda d: d["latent"].__setitem__("psi", "high"), "latent.psi"),
    (lambda d: d["head"].__setitem__("jaw", [0.1, 0.2]), "head.jaw"),
    (lambda d: d["head"].__setitem__("tail", [1.0]), "unknown head field"),
])
def test_bad_state_files_are_named(tmp_path, mutate, message):
    doc = json.loads(save_state(tmp_path / "s.json", RenderArgs()).read_text())
    mutate(doc)
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(BadInputError, match=message):
        load_state(tmp_path / "s.json", RenderArgs())
