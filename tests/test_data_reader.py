"""Reading EG3D-layout datasets: valid ones load identically from a folder and a zip; every kind of bad
entry is refused with a message naming it, or dropped and counted with skip_bad."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from next3d.data.dataset import HeadDataset
from next3d.data.sample import collate_samples
from next3d.data.validate import open_dataset
from next3d.errors import BadInputError
from next3d.render.camera import make_label, orbit_pose, validate_label

N = 6
RES = 16


def _labels(n=N):
    yaw = torch.linspace(-0.5, 0.5, n)
    return make_label(orbit_pose(yaw, 0.1 * yaw)).tolist()


def _write_folder(root, n=N, res=RES, doc_edit=None, modes=None):
    """A folder dataset of n random images named img0000i.png (in sub-folder 00000) and its dataset.json."""
    rng = np.random.default_rng(0)
    (root / "00000").mkdir(parents=True, exist_ok=True)
    labels = []
    for i, label in enumerate(_labels(n)):
        name = f"00000/img{i:05d}.png"
        Image.fromarray(rng.integers(0, 256, (res, res, 3), dtype=np.uint8)).save(root / name)
        labels.append([name, label])
    doc = {"labels": labels}
    if doc_edit is not None:
        doc_edit(doc)
    (root / "dataset.json").write_text(json.dumps(doc))
    return root


def _zip_folder(folder, path):
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
    return path


def _error(path, **kwargs) -> str:
    with pytest.raises(BadInputError) as info:
        HeadDataset(path, **kwargs)
    return str(info.value)


def test_folder_dataset_loads_images_and_labels_in_order(tmp_path):
    root = _write_folder(tmp_path / "ds")
    data = HeadDataset(root)
    assert len(data) == N and data.resolution == RES
    sample = data[2]
    expected = np.array(Image.open(root / "00000/img00002.png"))
    assert sample.image.dtype == torch.uint8 and sample.image.shape == (3, RES, RES)
    assert torch.equal(sample.image, torch.from_numpy(expected).permute(2, 0, 1))
    assert torch.allclose(sample.label, torch.tensor(_labels()[2]))
    validate_label(sample.label)
    assert sample.head is None and sample.vertices is None and not sample.flipped


def test_zip_and_folder_give_identical_samples(tmp_path):
    root = _write_folder(tmp_path / "ds")
    zipped = _zip_folder(root, tmp_path / "ds.zip")
    a, b = HeadDataset(root, xflip=True), HeadDataset(zipped, xflip=True)
    assert len(a) == len(b) == 2 * N
    for i in range(len(a)):
        assert torch.equal(a[i].image, b[i].image) and torch.equal(a[i].label, b[i].label)


def test_dataloader_with_workers_batches_typed_samples(tmp_path):
    zipped = _zip_folder(_write_folder(tmp_path / "ds"), tmp_path / "ds.zip")
    loader = torch.utils.data.DataLoader(HeadDataset(zipped), batch_size=4, num_workers=2,
                                         collate_fn=collate_samples)
    batches = list(loader)
    assert [b.image.shape[0] for b in batches] == [4, 2]
    assert batches[0].label.shape == (4, 25) and batches[1].index.tolist() == [4, 5]


def test_resolution_resizes_and_max_size_limits(tmp_path):
    root = _write_folder(tmp_path / "ds")
    warnings = []
    data = HeadDataset(root, resolution=8, max_size=3, warn=warnings.append)
    assert len(data) == 3 and data[0].image.shape == (3, 8, 8)
    assert len(warnings) == 1 and "resized to 8^2" in warnings[0]


def test_grayscale_and_rgba_images_follow_the_mode_rule(tmp_path):
    root = _write_folder(tmp_path / "ds")
    gray = np.arange(RES * RES, dtype=np.uint8).reshape(RES, RES)
    Image.fromarray(gray, "L").save(root / "00000/img00000.png")
    rgba = np.zeros((RES, RES, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 0  # fully transparent red: alpha is dropped, the colour kept
    Image.fromarray(rgba, "RGBA").save(root / "00000/img00001.png")
    data = HeadDataset(root)
    assert torch.equal(data[0].image, torch.from_numpy(gray)[None].expand(3, -1, -1))
    assert (data[1].image[0] == 200).all() and (data[1].image[1:] == 0).all()


def _edit_label(i, fn):
    def edit(doc):
        fn(doc["labels"][i])
    return edit


@pytest.mark.parametrize("edit, expected", [
    (_edit_label(3, lambda e: e[1].pop()), "entry 3 (00000/img00003.png): label has 24 numbers, expected 25"),
    (_edit_label(2, lambda e: e[1].__setitem__(5, float("nan"))), "entry 2 (00000/img00002.png): label element 5 is NaN"),
    (_edit_label(1, lambda e: e[1].__setitem__(0, 2.0)), "entry 1 (00000/img00001.png): label: the 3x3 rotation"),
    (_edit_label(4, lambda e: e.__setitem__(0, "00000/missing.png")), "entry 4 (00000/missing.png): image file not found"),
    (_edit_label(4, lambda e: e.__setitem__(0, "../outside.png")), "entry 4 (../outside.png): file name"),
    (lambda doc: doc["labels"].append(list(doc["labels"][0])), "entry 6 (00000/img00000.png): listed twice"),
    (lambda doc: doc.__setitem__("lables", []), "unknown key \"lables\" (did you mean \"labels\"?)"),
    (_edit_label(0, lambda e: e.__setitem__(1, "x")), "entry 0 (00000/img00000.png): label must be a list"),
])
def test_bad_dataset_json_entries_are_named(tmp_path, edit, expected):
    root = _write_folder(tmp_path / "ds", doc_edit=edit)
    assert expected in _error(root)


def test_corrupt_and_wrong_size_images_are_named(tmp_path):
    root = _write_folder(tmp_path / "ds")
    (root / "00000/img00001.png").write_bytes(b"\x89PNG not really")
    assert "entry 1 (00000/img00001.png): not a readable PNG/JPEG image" in _error(root)
    root = _write_folder(tmp_path / "ds2")
    Image.fromarray(np.zeros((RES * 2, RES * 2, 3), dtype=np.uint8)).save(root / "00000/img00004.png")
    assert "entry 4 (00000/img00004.png): image is 32x32 but the dataset's images are 16x16" in _error(root)
    Image.fromarray(np.zeros((RES, RES + 1, 3), dtype=np.uint8)).save(root / "00000/img00004.png")
    assert "entry 4 (00000/img00004.png): is 17x16, not square" in _error(root)


def test_truncated_image_fails_on_load_naming_the_file_and_check_finds_it(tmp_path):
    root = _write_folder(tmp_path / "ds")
    data = (root / "00000/img00002.png").read_bytes()
    (root / "00000/img00002.png").write_bytes(data[: len(data) // 2])
    dataset = HeadDataset(root)  # the header is intact: found when decoded
    with pytest.raises(BadInputError, match="img00002.png: corrupt or unreadable image"):
        dataset[2]
    opened = open_dataset(root, skip_bad=True, verify_pixels=True)
    assert [(p.entry, p.name) for p in opened.problems] == [(2, "00000/img00002.png")]


def test_skip_bad_drops_and_counts_bad_entries(tmp_path):
    def edit(doc):
        doc["labels"][1][1].pop()
        doc["labels"][3][1][0] = float("inf")
        doc["labels"].append(["00000/nope.png", doc["labels"][0][1]])
    root = _write_folder(tmp_path / "ds", doc_edit=edit)
    message = _error(root)
    assert "entry 1" in message and "and 2 more problems" in message
    warnings = []
    data = HeadDataset(root, skip_bad=True, warn=warnings.append)
    assert len(data) == N - 2 and data.skipped == 3
    assert warnings == [f"{root}: skipped 3 bad entries of {N + 1}"]
    assert [data.index.names[i] for i in range(len(data))] == [f"00000/img0000{i}.png" for i in (0, 2, 4, 5)]


def test_plain_eg3d_dataset_without_head_data(tmp_path):
    data = HeadDataset(_write_folder(tmp_path / "ds"), xflip=True)
    assert data.head_section is None and data[N].head is None and data[N].flipped


def test_not_a_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "no dataset.json" in _error(tmp_path / "empty")
    (tmp_path / "x.zip").write_bytes(b"garbage")
    assert "not a zip archive" in _error(tmp_path / "x.zip")
    root = _write_folder(tmp_path / "ds")
    (root / "dataset.json").write_text('{"labels": [')
    assert "dataset.json: not valid JSON" in _error(root)
    assert "no such dataset" in _error(tmp_path / "missing")
