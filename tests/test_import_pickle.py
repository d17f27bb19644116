"""Reading the persistence/tensor layout of official pickles as data: torch's own pickling of tensors,
parameters, storages and modules round-trips; malformed files get one line naming the file."""

from __future__ import annotations

import io
import pickle
import struct

import pytest
import torch
from test_import_layout import EasyDict, Node, to_pickle_objects, write_official_pickle

from next3d.errors import BadInputError
from next3d.io.official_pickle import OfficialWhitelist, read_official_pickle
from next3d.io.official_records import PersistentRecord, module_tensors
from next3d.io.official_storage import storage_from_legacy_bytes
from next3d.io.safe_pickle import safe_load


def load_data(payload: bytes):
    return safe_load(payload, OfficialWhitelist("test"), what="test")


@pytest.mark.parametrize("protocol", [2, 4])
def test_tensors_parameters_and_modules_pickled_by_torch_load_as_plain_tensors(protocol):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softplus())
    module.register_buffer("steps", torch.tensor([1, 2, 3]), persistent=False)
    data = {"view": base[1:, ::2], "half": base.half(), "long": torch.arange(5), "flags": base > 5,
            "param": torch.nn.Parameter(base.clone()), "net": module}
    loaded = load_data(pickle.dumps(data, protocol=protocol))
    for key in ("view", "half", "long", "flags", "param"):
        assert type(loaded[key]) is torch.Tensor and torch.equal(loaded[key], data[key].detach())
        assert loaded[key].dtype == data[key].dtype
    state = module_tensors(loaded["net"], "test")
    assert state.keys() == module.state_dict().keys()  # the non-persistent buffer stays out, as in state_dict()
    assert all(torch.equal(state[k], v) for k, v in module.state_dict().items())


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")
def test_legacy_storage_blob_parse_matches_torch_weights_only_load():
    values = torch.randn(3, 5, dtype=torch.float64)
    buffer = io.BytesIO()
    torch.save(values.storage(), buffer, _use_new_zipfile_serialization=False)  # what _load_from_bytes receives
    ours = storage_from_legacy_bytes(buffer.getvalue(), "blob")
    theirs = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    assert ours.data.dtype == torch.float64 and torch.equal(ours.data, values.flatten())
    assert ours.data.tolist() == theirs.tolist()


def test_persistent_records_keep_init_kwargs_state_and_source_text(tmp_path):
    node = Node("TriPlaneGenerator", init_kwargs={"z_dim": 512, "mapping_kwargs": EasyDict(num_layers=2)},
                params={"w": (2, 3)}, attrs={"neural_rendering_resolution": 128, "rendering_kwargs": {"ray_start": 2.25}},
                modules={"decoder": Node("OSGDecoder", ref="training.triplane", params={"b": (4,)})})
    write_official_pickle(tmp_path / "g.pkl", {"G_ema": to_pickle_objects(node, {"w": torch.ones(2, 3)}, module_src="SRC")})
    pkl = read_official_pickle(tmp_path / "g.pkl")
    record = pkl.network("G_ema")
    assert isinstance(record, PersistentRecord) and record.class_name == "TriPlaneGenerator"
    assert record.module_src == "SRC" and record.version == 6
    assert record.init_kwargs == {"z_dim": 512, "mapping_kwargs": {"num_layers": 2}}
    assert record.state["neural_rendering_resolution"] == 128
    tensors = module_tensors(record, "g")
    assert set(tensors) == {"w", "decoder.b"} and torch.equal(tensors["w"], torch.ones(2, 3))
    assert len(pkl.sha256) == 64


def test_corrupt_truncated_and_foreign_files_name_the_file(tmp_path):
    good = tmp_path / "good.pkl"
    write_official_pickle(good, {"G_ema": to_pickle_objects(Node("TriPlaneGenerator", params={"w": (2,)}), {})})
    cases = {
        "truncated.pkl": (good.read_bytes()[: len(good.read_bytes()) // 2], "not a readable pickle"),
        "random.pkl": (bytes(range(256)) * 4, "not a readable pickle"),
        "zip.pkl": (b"PK\x03\x04" + bytes(100), "a zip archive"),
        "empty.pkl": (pickle.dumps({}), "holds no networks"),
        "list.pkl": (pickle.dumps([1, 2]), "holds a list"),
    }
    for name, (payload, message) in cases.items():
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(BadInputError, match=message) as info:
            read_official_pickle(tmp_path / name)
        assert name in str(info.value)
    with pytest.raises(BadInputError, match="file not found"):
        read_official_pickle(tmp_path / "missing.pkl")


def _blob(numel_header: int, elements: int, main: bytes | None = None) -> bytes:
    """A legacy storage blob with a float storage of `numel_header` elements but `elements` of data."""
    header = b"".join(pickle.dumps(v, protocol=2) for v in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}))
    main = main or b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK" \
        + bytes([numel_header]) + b"NtQ."
    return header + main + pickle.dumps(["0"], protocol=2) + struct.pack("<q", elements) + bytes(4 * elements)


def test_storage_blobs_are_bounds_checked():
    assert storage_from_legacy_bytes(_blob(3, 3), "ok").data.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(BadInputError, match="storage header says 5 elements, data holds 3"):
        storage_from_legacy_bytes(_blob(5, 3), "bad")
    with pytest.raises(BadInputError, match="truncated"):
        storage_from_legacy_bytes(_blob(3, 3)[:-4], "bad")
    storage = storage_from_legacy_bytes(_blob(6, 6), "ok")
    from next3d.io.official_storage import rebuild_tensor

    assert rebuild_tensor(storage, 0, (2, 3), (3, 1)).shape == (2, 3)
    with pytest.raises(BadInputError, match="reads element 7 of a storage of 6"):
        rebuild_tensor(storage, 1, (2, 3), (4, 1))
