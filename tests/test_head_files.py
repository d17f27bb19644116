"""Head files: a missing, foreign or malformed file fails with one message naming the file and the field."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from next3d.errors import BadInputError
from next3d.head import HeadModel, load_default_head, load_head
from next3d.head.storage import META_KEY


def _write_raw(path, tensors, meta):
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path),
              metadata=None if meta is None else {META_KEY: json.dumps(meta)})


def _raw_parts(tmp_path):
    """The tensors and metadata of the built-in head, as written on disk."""
    from safetensors import safe_open

    path = tmp_path / "good.safetensors"
    load_default_head().save(path)
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, json.loads(f.metadata()[META_KEY])


def test_missing_file(tmp_path):
    with pytest.raises(BadInputError, match=r"head file '.*nope\.safetensors': not found"):
        HeadModel.load(tmp_path / "nope.safetensors")
    with pytest.raises(BadInputError, match="nope.safetensors"):
        load_head(tmp_path / "nope.safetensors")


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"this is not a head model at all")
    with pytest.raises(BadInputError, match=r"head file '.*junk\.safetensors': not a safetensors head file"):
        HeadModel.load(path)


def test_safetensors_without_head_metadata(tmp_path):
    path = tmp_path / "weights.safetensors"
    _write_raw(path, {"w": torch.zeros(3)}, None)
    with pytest.raises(BadInputError, match="has no 'next3d_head' metadata; not a Next3D head file"):
        HeadModel.load(path)


def test_wrong_tensor_shape_names_field_and_expected_shape(tmp_path):
    tensors, meta = _raw_parts(tmp_path)
    v = tensors["v_template"].shape[0]
    tensors["expr_dirs"] = tensors["expr_dirs"][:, :, :50]
    path = tmp_path / "bad_shape.safetensors"
    _write_raw(path, tensors, meta)
    with pytest.raises(BadInputError, match=rf"bad_shape\.safetensors': expr_dirs has shape \({v}, 3, 50\), "
                                            rf"expected \(V, 3, E\) = \({v}, 3, 52\)"):
        HeadModel.load(path)


def test_missing_tensor_and_bad_indices(tmp_path):
    tensors, meta = _raw_parts(tmp_path)
    broken = dict(tensors)
    del broken["lbs_weights"]
    path = tmp_path / "missing.safetensors"
    _write_raw(path, broken, meta)
    with pytest.raises(BadInputError, match="tensor 'lbs_weights' is missing"):
        HeadModel.load(path)
    broken = dict(tensors)
    broken["faces"] = broken["faces"].clone()
    broken["faces"][0, 0] = 10**6
    _write_raw(path, broken, meta)
    with pytest.raises(BadInputError, match=r"faces holds indices outside \[0, "):
        HeadModel.load(path)


def test_bad_metadata(tmp_path):
    tensors, meta = _raw_parts(tmp_path)
    path = tmp_path / "meta.safetensors"
    _write_raw(path, tensors, {**meta, "version": 99})
    with pytest.raises(BadInputError, match="format version 99 is not supported"):
        HeadModel.load(path)
    _write_raw(path, tensors, {**meta, "expr_names": meta["expr_names"][:-1]})
    with pytest.raises(BadInputError, match=r"expr_dirs has shape .*expected \(V, 3, E\)"):
        HeadModel.load(path)
