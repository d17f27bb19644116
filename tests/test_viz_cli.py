"""The headless twins of the visualizer: `python -m next3d render` and `python -m next3d video`."""

import numpy as np
import pytest
from click.testing import CliRunner

from next3d.cli import main


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("argv, message", [
    (["render", "--seeds", "3-1", "--out", "o"], "--seeds '3-1'"),
    (["render", "--ckpt", "nope.safetensors", "--out", "o"], "nope.safetensors: no such checkpoint file"),
    (["render", "--yaw", "nan", "--out", "o"], "yaw must be a finite number"),
    (["video", "--out", "clip.avi"], "videos are written as .mp4"),
    (["video", "--kind", "expression", "--out", "c.mp4"], "needs --expression-file"),
    (["video", "--frames", "0", "--out", "c.mp4"], "frames must be at least 1"),
    (["render", "--state", "missing.json", "--out", "o"], "missing.json: no such state file"),
])
def test_bad_input_is_one_line_and_exit_code_1(tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    result = _run(*argv)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert "Traceback" not in result.output
    assert not any(p.suffix == ".mp4" for p in tmp_path.rglob("*"))


def test_expression_video_rejects_a_bad_sequence_file(tmp_path):
    np.savez(tmp_path / "seq.npz", jaw=np.zeros((4, 2)))
    result = _run("video", "--kind", "expression", "--expression-file", str(tmp_path / "seq.npz"),
                  "--out", str(tmp_path / "c.mp4"))
    assert result.exit_code == 1 and "'jaw' has 2 values per frame, expected 3" in result.output


def test_render_writes_one_png_per_seed_with_its_state(tmp_path):
    import imageio.v3 as iio

    from next3d.capture.state import load_state_document

    result = _run("render", "--ckpt", "builtin:tiny-random", "--seeds", "0-1", "--yaw", "0.3", "--save-state",
                  "--device", "cpu", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    first, second = iio.imread(tmp_path / "seed0000.png"), iio.imread(tmp_path / "seed0001.png")
    assert first.shape == (64, 64, 3) and not np.array_equal(first, second)
    doc = load_state_document(tmp_path / "seed0001.json")
    assert doc["latent"]["seed"] == 1 and len(doc["camera"]["label"]) == 25


def test_render_matches_the_gui_renderer_for_the_same_state(tmp_path):
    import imageio.v3 as iio

    from next3d.capture.render_args import RenderArgs
    from next3d.capture.renderer import Renderer
    from next3d.capture.state import save_state

    args = RenderArgs(latent_x=4.0, yaw=-0.2, pitch=0.1, jaw=(0.3, 0.0, 0.0), device="cpu")
    save_state(tmp_path / "view.json", args)
    result = _run("render", "--state", str(tmp_path / "view.json"), "--seeds", "4", "--out", str(tmp_path / "o"),
                  "--device", "cpu")
    assert result.exit_code == 0, result.output
    cli_image = iio.imread(tmp_path / "o" / "seed0004.png").astype(int)
    # the camera went through a float32 25-d label and back: equal up to rounding
    assert np.abs(cli_image - Renderer("cpu").render_image(args)).max() <= 2


def test_turntable_video_has_the_requested_frames_and_moves(tmp_path):
    from next3d.capture.video import read_mp4

    out = tmp_path / "turntable.mp4"
    result = _run("video", "--ckpt", "builtin:tiny-random", "--seed", "2", "--frames", "8", "--fps", "10",
                  "--yaw-amp", "0.6", "--pitch-amp", "0.2", "--device", "cpu", "--out", str(out))
    assert result.exit_code == 0, result.output
    frames, fps = read_mp4(out)
    assert frames.shape == (8, 64, 64, 3) and fps == pytest.approx(10)
    assert np.abs(frames[0].astype(int) - frames[2].astype(int)).mean() > 1.0


def test_expression_video_plays_the_sequence(tmp_path):
    from next3d.capture.sequence import save_head_sequence
    from next3d.capture.video import read_mp4

    jaw = np.zeros((5, 3))
    jaw[:, 0] = np.linspace(0.0, 0.45, 5)
    save_head_sequence(tmp_path / "talk.npz", {"jaw": jaw}, fps=5)
    out = tmp_path / "talk.mp4"
    result = _run("video", "--kind", "expression", "--expression-file", str(tmp_path / "talk.npz"), "--loops", "2",
                  "--device", "cpu", "--out", str(out))
    assert result.exit_code == 0, result.output
    frames, fps = read_mp4(out)
    assert frames.shape[0] == 10 and fps == pytest.approx(5)
    assert np.abs(frames[0].astype(int) - frames[4].astype(int)).mean() > 0.2  # the mouth opened
    assert np.abs(frames[0].astype(int) - frames[5].astype(int)).mean() < 1.5  # second loop starts over
