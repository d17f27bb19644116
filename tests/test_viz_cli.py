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
