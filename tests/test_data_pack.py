"""`dataset pack`: user images + cameras (+ head parameters / vertices) become a dataset that HeadDataset
reads back exactly; every bad entry is named (or dropped and counted); a failed pack leaves no output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from next3d.cli import main
from next3d.data.dataset import HeadDataset
from next3d.data.pack import PackSources, pack_dataset
from next3d.errors import BadInputError
from next3d.render.camera import make_label, orbit_pose
from tests.test_data_xflip import random_params, tiny_head

N, RES = 5, 12


def _user_data(root, n=N, res=RES):
    """images/ (PNG + one JPEG in a sub-folder), cameras.json keyed by stem, and per-image camera files."""
    rng = np.random.default_rng(1)
    (root / "images/sub").mkdir(parents=True)
    names = [f"a{i}.png" for i in range(n - 1)] + ["sub/b.jpg"]
    for name in names:
        Image.fromarray(rng.integers(0, 256, (res, res, 3), dtype=np.uint8)).save(root / "images" / name)
    labels = make_label(orbit_pose(torch.linspace(-0.3, 0.3, n), torch.zeros(n))).tolist()
    cameras = {name.rsplit(".", 1)[0]: label for name, label in zip(names, labels)}
    (root / "cameras.json").write_text(json.dumps(cameras))
    return names, labels


def _pack_error(**kwargs) -> str:
    with pytest.raises(BadInputError) as info:
        pack_dataset(**kwargs)
    return str(info.value)


def test_pack_round_trip_folder_and_zip(tmp_path):
    names, labels = _user_data(tmp_path)
    sources = PackSources(tmp_path / "images", tmp_path / "cameras.json")
    for out in (tmp_path / "out", tmp_path / "out.zip"):
        report = pack_dataset(sources, out, progress=False)
        assert report.written == N and report.problems == []
        data = HeadDataset(out)
        assert sorted(data.index.names) == sorted(names)
        for i, name in enumerate(data.index.names):
            expected = np.array(Image.open(tmp_path / "images" / name).convert("RGB"))
            assert torch.equal(data[i].image, torch.from_numpy(expected).permute(2, 0, 1))
            assert torch.allclose(data[i].label, torch.tensor(labels[names.index(name)]))


def test_pack_with_head_params_and_per_image_camera_files(tmp_path):
    names, labels = _user_data(tmp_path)
    (tmp_path / "cams/sub").mkdir(parents=True)
    for name, label in zip(names, labels):  # one format per file: .txt, .npy (4x4 + 3x3 split), .json
        stem = tmp_path / "cams" / name.rsplit(".", 1)[0]
        if name.startswith("a0"):
            stem.with_suffix(".txt").write_text(" ".join(map(str, label)))
        elif name.startswith("a1"):
            np.save(stem.with_suffix(".npy"), np.array(label))
        else:
            stem.with_suffix(".json").write_text(json.dumps({"cam2world": np.reshape(label[:16], (4, 4)).tolist(),
                                                             "intrinsics": np.reshape(label[16:], (3, 3)).tolist()}))
    head = tiny_head()
    params = random_params(head, N)
    per_field = {name: {"shape": params.shape[i, :1].tolist(), "expression": params.expression[i].tolist(),
                        "jaw": params.jaw[i].tolist()} for i, name in enumerate(names)}
    (tmp_path / "params.json").write_text(json.dumps({"params": per_field}))
    from next3d.data.head_link import head_section_for
    out = tmp_path / "out"
    pack_dataset(PackSources(tmp_path / "images", tmp_path / "cams", tmp_path / "params.json"), out,
                 head_section=head_section_for(head), progress=False)
    data = HeadDataset(out, head=head, xflip=True)
    i = data.index.names.index("a3.png")
    got = data[i].head
    assert torch.allclose(got[:2], torch.tensor([params.shape[3, 0], 0.0]))  # shape zero-padded
    assert torch.allclose(got[2:5], params.expression[3]) and torch.allclose(got[5:8], params.jaw[3])
    assert torch.count_nonzero(got[8:]) == 0  # neck, eyes, rotation, translation not given -> zero
    assert torch.allclose(data[i].label, torch.tensor(labels[3]))


@pytest.mark.parametrize("break_it, expected", [
    (lambda root, cams: cams.pop("a2"), "images/a2.png: no camera given"),
    (lambda root, cams: cams["a1"].pop(), "images/a1.png: camera: label has 24 numbers, expected 25"),
    (lambda root, cams: cams["a3"].__setitem__(4, float("nan")), "images/a3.png: camera: label contains NaN"),
    (lambda root, cams: cams.__setitem__("zz", cams["a0"]), "images/zz: camera given for an image that is not in"),
    (lambda root, cams: (root / "images/a0.png").write_bytes(b"junk"), "images/a0.png: not a readable PNG/JPEG"),
    (lambda root, cams: Image.new("RGB", (RES, RES + 2)).save(root / "images/a1.png"),
     "images/a1.png: is 12x14, not square"),
    (lambda root, cams: Image.new("RGB", (RES * 2, RES * 2)).save(root / "images/a1.png"),
     "images/a1.png: image is 24x24, most others 12x12"),
])
def test_pack_names_every_bad_entry_and_writes_nothing(tmp_path, break_it, expected):
    _user_data(tmp_path)
    cams = json.loads((tmp_path / "cameras.json").read_text())
    break_it(tmp_path, cams)
    (tmp_path / "cameras.json").write_text(json.dumps(cams))
    sources = PackSources(tmp_path / "images", tmp_path / "cameras.json")
    assert expected in _pack_error(sources=sources, out=tmp_path / "out.zip", progress=False)
    assert not (tmp_path / "out.zip").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cameras.json", "images"]  # no temp files left
    report = pack_dataset(sources, tmp_path / "out.zip", skip_bad=True, progress=False)
    usable = N if "zz" in expected else N - 1  # a camera for an unknown image drops no image
    assert report.written == usable and len(report.problems) == 1 and expected in report.problems[0]
    assert len(HeadDataset(tmp_path / "out.zip")) == usable


def test_pack_resolution_resizes_mixed_sizes(tmp_path):
    _user_data(tmp_path)
    Image.new("RGB", (RES * 2, RES * 2), (10, 20, 30)).save(tmp_path / "images/a1.png")
    pack_dataset(PackSources(tmp_path / "images", tmp_path / "cameras.json"), tmp_path / "out", resolution=8,
                 progress=False)
    data = HeadDataset(tmp_path / "out")
    assert data.resolution == 8 and "sub/b.png" in data.index.names  # the JPEG, re-encoded as PNG
    assert data[data.index.names.index("a1.png")].image[:, 4, 4].tolist() == [10, 20, 30]


def test_pack_refuses_to_overwrite_without_force(tmp_path):
    _user_data(tmp_path)
    sources = PackSources(tmp_path / "images", tmp_path / "cameras.json")
    pack_dataset(sources, tmp_path / "out", progress=False)
    assert "already exists; pass --force" in _pack_error(sources=sources, out=tmp_path / "out", progress=False)
    pack_dataset(sources, tmp_path / "out", force=True, progress=False)
    assert len(HeadDataset(tmp_path / "out")) == N


def test_cli_pack_info_check(tmp_path):
    _user_data(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["dataset", "pack", "--images", str(tmp_path / "images"), "--cameras",
                                  str(tmp_path / "cameras.json"), "--out", str(tmp_path / "ds.zip")])
    assert result.exit_code == 0, result.output
    assert f"{N} entries at 12x12" in result.output
    result = runner.invoke(main, ["dataset", "info", str(tmp_path / "ds.zip")])
    assert result.exit_code == 0 and f"{N} entries, 12x12 images" in result.output and "yaw: mean" in result.output
    assert runner.invoke(main, ["dataset", "check", str(tmp_path / "ds.zip")]).exit_code == 0
    cams = json.loads((tmp_path / "cameras.json").read_text())
    cams["a2"] = cams["a2"][:24]
    (tmp_path / "cameras.json").write_text(json.dumps(cams))
    result = runner.invoke(main, ["dataset", "pack", "--images", str(tmp_path / "images"), "--cameras",
                                  str(tmp_path / "cameras.json"), "--out", str(tmp_path / "ds2")])
    assert result.exit_code == 1 and "error: images/a2.png: camera: label has 24 numbers" in result.output
    assert not (tmp_path / "ds2").exists()
    result = runner.invoke(main, ["dataset", "pack", "--images", str(tmp_path / "images"), "--cameras",
                                  str(tmp_path / "cameras.json"), "--out", str(tmp_path / "ds2"), "--skip-bad"])
    assert result.exit_code == 0 and "skipped 1 bad" in result.output


def test_cli_check_lists_all_problems(tmp_path):
    _user_data(tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["dataset", "pack", "--images", str(tmp_path / "images"), "--cameras",
                         str(tmp_path / "cameras.json"), "--out", str(tmp_path / "ds")])
    doc = json.loads((tmp_path / "ds/dataset.json").read_text())
    doc["labels"][0][1].pop()
    doc["labels"][2][1][0] = float("nan")
    (tmp_path / "ds/dataset.json").write_text(json.dumps(doc))
    result = runner.invoke(main, ["dataset", "check", str(tmp_path / "ds")])
    assert result.exit_code == 1
    assert "entry 0" in result.output and "entry 2" in result.output and "2 bad entries of 5" in result.output
