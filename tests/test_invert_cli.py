"""`python -m next3d invert`: every output of a run, one-line errors for bad input, never a half-written folder,
never a modified checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_invert_support import (
    TEST_NEURAL_RES,
    contrasted_generator,
    render_target,
    sample_latent,
    save_snapshot_file,
    to_uint8,
)

from next3d.capture.jobs import save_png
from next3d.cli import main
from next3d.invert.camera_file import camera_document
from next3d.invert.camera_fit import OrbitCamera
from next3d.utils.hashing import file_sha256

CAMERA = OrbitCamera(yaw=0.2, pitch=-0.05)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A training-snapshot-like checkpoint (G_ema + D), a non-square photo rendered by it, and its camera."""
    folder = tmp_path_factory.mktemp("invert_inputs")
    G = contrasted_generator()
    save_snapshot_file(folder / "snapshot.safetensors", G)
    photo = to_uint8(render_target(G, sample_latent(G, seed=11, psi=0.5), CAMERA))
    save_png(folder / "photo.png", np.pad(photo, ((0, 0), (8, 8), (0, 0)), mode="edge"))  # 80x64: cropped
    (folder / "camera.json").write_text(json.dumps(camera_document(CAMERA, given=False)))
    return folder


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_invert_writes_every_output_and_leaves_the_checkpoint_alone(inputs, tmp_path):
    from next3d.capture.render_args import RenderArgs
    from next3d.capture.state import load_state
    from next3d.capture.video import read_mp4
    from next3d.io.checkpoint import read_meta
    from next3d.io.generator_file import load_generator

    ckpt = inputs / "snapshot.safetensors"
    before = file_sha256(ckpt)
    out = tmp_path / "result"
    result = _run("invert", "--ckpt", str(ckpt), "--image", str(inputs / "photo.png"), "--camera",
                  str(inputs / "camera.json"), "--out", str(out), "--steps", "3", "--pti-steps", "2",
                  "--turntable-frames", "3", "--neural-res", str(TEST_NEURAL_RES), "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "80x64 is not square; centre-cropped to 64x64" in result.output
    assert "discriminator features" in result.output  # the snapshot's D is used
    assert file_sha256(ckpt) == before
    expected = {"latent.npy", "latent.npz", "camera.json", "target.png", "before.png", "after.png", "after_latent.png",
                "comparison.png", "turntable.mp4", "tuned.safetensors", "view_state.json", "log.jsonl", "report.json"}
    assert {p.name for p in out.iterdir()} == expected and _leftovers(tmp_path) == []

    latent = np.load(out / "latent.npy")
    assert latent.shape == (20, 512) and latent.dtype == np.float32 and np.isfinite(latent).all()
    camera = json.loads((out / "camera.json").read_text())
    assert len(camera["label"]) == 25 and camera["given"] is True
    assert abs(camera["yaw"] - CAMERA.yaw) < 1e-5 and abs(camera["pitch"] - CAMERA.pitch) < 1e-5
    report = json.loads((out / "report.json").read_text())
    assert report["steps"] == {"latent": 3, "pti": 2} and report["pivotal_tuning"] is True
    assert report["psnr_after"] > report["psnr_before"]
    assert report["source"]["sha256"] == before
    events = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "done" and all("t" in e for e in events)
    assert sum(e["event"] == "step" for e in events) == 5
    frames, _ = read_mp4(out / "turntable.mp4")
    assert frames.shape == (3, 64, 64, 3)

    tuned_meta = read_meta(out / "tuned.safetensors")
    assert tuned_meta["inversion"]["source_sha256"] == before
    tuned = load_generator(out / "tuned.safetensors")
    original = load_generator(ckpt)
    assert any(not torch.equal(a, b) for a, b in zip(tuned.state_dict().values(), original.state_dict().values()))
    state = load_state(out / "view_state.json", RenderArgs(), use_checkpoint=True)
    assert state.checkpoint == str((out / "tuned.safetensors").resolve())
    assert state.latent_file == str((out / "latent.npz").resolve())
    assert np.array_equal(np.load(state.latent_file)["w"], latent)


@pytest.mark.parametrize("change, message", [
    ({"--image": "notes.txt"}, "notes.txt: not an image file"),
    ({"--image": "missing.png"}, "missing.png: no such file"),
    ({"--camera": "nan.json"}, "nan.json: label: contains NaN or Inf"),
    ({"--image": "flat.png"}, "no head-like foreground found"),
    ({"--mask": "wrong_mask.png"}, "the mask must have the image's size"),
    ({"--ckpt": "notes.txt"}, "not a readable safetensors checkpoint"),
    ({"--steps": "-3"}, "steps = -3"),
])
def test_bad_input_is_one_line_exit_1_and_no_folder(inputs, tmp_path, change, message):
    (tmp_path / "notes.txt").write_text("a text file, not a photo\n")
    (tmp_path / "nan.json").write_text('{"label": [' + ", ".join(["NaN"] * 25) + "]}")
    save_png(tmp_path / "flat.png", np.full((64, 64, 3), 90, np.uint8))
    save_png(tmp_path / "wrong_mask.png", np.full((32, 32, 3), 255, np.uint8))
    args = {"--ckpt": str(inputs / "snapshot.safetensors"), "--image": str(inputs / "photo.png"),
            "--out": str(tmp_path / "out"), "--steps": "1", "--device": "cpu"}
    for key, value in change.items():
        args[key] = value if value.lstrip("-").isdigit() else str(tmp_path / value)
    result = _run("invert", *[x for kv in args.items() for x in kv])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last and "Traceback" not in result.output
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_an_existing_output_folder_is_never_written_into(inputs, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = _run("invert", "--ckpt", str(inputs / "snapshot.safetensors"), "--image", str(inputs / "photo.png"),
                  "--out", str(out), "--device", "cpu")
    assert result.exit_code == 1 and "already exists" in result.output
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_failure_while_writing_leaves_no_folder(inputs, tmp_path, monkeypatch):
    from next3d.invert import outputs

    def broken_turntable(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(outputs, "write_turntable", broken_turntable)
    result = _run("invert", "--ckpt", str(inputs / "snapshot.safetensors"), "--image", str(inputs / "photo.png"),
                  "--camera", str(inputs / "camera.json"), "--out", str(tmp_path / "out"), "--steps", "1",
                  "--neural-res", str(TEST_NEURAL_RES), "--device", "cpu")
    assert result.exit_code == 1 and "disk full (simulated)" in result.output
    assert list(tmp_path.iterdir()) == []
