"""`dataset synth`: a tiny synthetic dataset renders on the CPU, reads back with valid cameras and head
parameters, is byte-identical for the same seed (also after an interrupted and resumed run, and as a zip),
differs for another seed, and never leaves a half-written output."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from next3d.cli import main
from next3d.data.dataset import HeadDataset
from next3d.data.scene import sample_scenes
from next3d.data.synth import synth_dataset
from next3d.data.synth_settings import SynthSettings
from next3d.errors import BadInputError
from next3d.head import HeadParams
from next3d.render.camera import pose_angles, split_label
from tests.test_data_xflip import tiny_head

N, RES = 10, 32


@pytest.fixture(scope="module")
def head():
    return tiny_head()


def _settings(head, **overrides) -> SynthSettings:
    values = {"n": N, "resolution": RES, "seed": 3, "batch": 4, "supersample": 2, "head_name": head.name,
              "head_hash": head.content_hash(), "device_type": "cpu"}
    return SynthSettings(**{**values, **overrides})


def _files(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".png", ".json")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, head):
    """One uninterrupted run, shared by the tests that compare against it."""
    out = tmp_path_factory.mktemp("ref") / "ds"
    report = synth_dataset(out, _settings(head), head, progress=False)
    assert report.finished and report.written == N
    return out


def test_synth_output_reads_back_with_cameras_and_head_params(reference, head):
    data = HeadDataset(reference, head=head, xflip=True)
    assert len(data) == 2 * N and data.resolution == RES
    assert data.head_section.model_hash == head.content_hash()
    labels = data.labels
    split_label(labels)  # valid cameras
    yaw, _pitch, radius = pose_angles(labels[:, :16].reshape(-1, 4, 4))
    assert torch.allclose(radius, torch.full((N,), 2.7), atol=1e-4) and yaw.std() > 0.05
    params = HeadParams.from_vector(data.head_vectors, head)
    params.validate(head)
    assert params.shape.abs().sum() > 0 and params.eyes.abs().sum() > 0
    for i in range(N):
        image = data[i].image.float()
        corner, centre = image[:, 0, 0], image[:, RES // 2 - 2:RES // 2 + 2, RES // 2 - 2:RES // 2 + 2]
        assert (centre - corner[:, None, None]).abs().amax() > 20, f"image {i}: no head in the middle"


def test_same_seed_same_bytes_other_seed_differs(reference, tmp_path, head):
    synth_dataset(tmp_path / "again", _settings(head), head, progress=False)
    assert _files(tmp_path / "again") == _files(reference)
    synth_dataset(tmp_path / "other", _settings(head, seed=4), head, progress=False)
    other, ref = _files(tmp_path / "other"), _files(reference)
    assert other.keys() == ref.keys()
    assert all(other[name] != ref[name] for name in ref if name.endswith(".png"))


def test_interrupted_run_resumes_to_identical_bytes(reference, tmp_path, head):
    out = tmp_path / "ds"
    first = synth_dataset(out, _settings(head), head, stop_after=3, progress=False)
    assert not first.finished and first.written == 4  # whole batches: stops after the first one
    assert not out.exists() and (tmp_path / "ds.partial").is_dir()
    (tmp_path / "ds.partial/00000/img00000001.png").unlink()  # as if killed before that file was renamed
    with pytest.raises(BadInputError, match=r"unfinished run with other settings \(resolution 16 \(now\) vs 32"):
        synth_dataset(out, _settings(head, resolution=16), head, progress=False)
    second = synth_dataset(out, _settings(head), head, progress=False)
    assert second.finished and second.already_done == 3 and second.written == N - 3
    assert _files(out) == _files(reference)
    assert not (tmp_path / "ds.partial").exists()
    with pytest.raises(BadInputError, match="already exists; pass --force"):
        synth_dataset(out, _settings(head), head, progress=False)


def test_zip_output_matches_folder(reference, tmp_path, head):
    zipped = tmp_path / "ds.zip"
    synth_dataset(zipped, _settings(head), head, progress=False)
    a, b = HeadDataset(reference), HeadDataset(zipped)
    assert a.index.names == b.index.names and torch.equal(a.labels, b.labels)
    assert all(torch.equal(a[i].image, b[i].image) for i in range(N))


def test_scene_of_an_image_does_not_depend_on_its_batch(head):
    together = sample_scenes(7, [5, 6, 7], head)
    alone = sample_scenes(7, [6], head)
    assert torch.equal(together.labels[1], alone.labels[0]) and torch.equal(together.head[1], alone.head[0])
    assert torch.equal(together.appearance.skin[1], alone.appearance.skin[0])


def test_cli_synth_then_info(tmp_path, head):
    head.save(tmp_path / "tiny.safetensors")
    runner = CliRunner()
    args = ["dataset", "synth", "--out", str(tmp_path / "ds"), "--n", "6", "--res", "16", "--batch", "3",
            "--head", str(tmp_path / "tiny.safetensors"), "--device", "cpu", "--zip", "--bench"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "images/s" in result.output and (tmp_path / "ds.zip").is_file()
    result = runner.invoke(main, ["dataset", "info", str(tmp_path / "ds.zip")])
    assert result.exit_code == 0 and "6 entries, 16x16 images" in result.output
    assert "head parameters: shape 2, expression 3" in result.output
    result = runner.invoke(main, args[:-1] + ["--n", "0"])
    assert result.exit_code == 1 and "error: --n must be an integer >= 1" in result.output


def test_yaw_pitch_distribution_is_ffhq_like(head):
    scenes = sample_scenes(0, list(range(400)), head)
    yaw, pitch, _ = pose_angles(scenes.labels[:, :16].reshape(-1, 4, 4))
    assert 0.28 < float(yaw.std()) < 0.42 and abs(float(yaw.mean())) < 0.06 and float(yaw.abs().max()) <= 1.1 + 1e-5
    assert 0.11 < float(pitch.std()) < 0.19 and float(pitch.abs().max()) <= 0.45 + 1e-5
    active = (scenes.head[:, 2:5] != 0).sum(1).float()  # expression units of the tiny head
    assert 0.5 < float(active.mean()) < 2.5 and float((active == 0).float().mean()) > 0.1
    assert np.isclose(float((scenes.head[:, 5] > 0).float().mean()), 0.4, atol=0.08)  # jaw open ~40%


def test_builtin_head_renders_faces_on_cpu(tmp_path):
    from next3d.head import load_default_head

    head = load_default_head()
    settings = _settings(head, n=4, resolution=32, supersample=1)
    synth_dataset(tmp_path / "ds", settings, head, progress=False)
    data = HeadDataset(tmp_path / "ds", xflip=True)  # the built-in head: mirrored without passing it
    assert data.head_section.model_name == head.name and len(data) == 8
    for i in range(4):
        image = data[i].image.float()
        assert (image[:, 12:20, 12:20] - image[:, :1, :1]).abs().amax() > 20, f"image {i}: no face in the middle"
