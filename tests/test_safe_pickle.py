"""The restricted unpickler loads data and refuses (without running anything) every other import."""

from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest

from next3d.errors import BadInputError, UnsafeFileError
from next3d.io.safe_pickle import builtin_types, numpy_types, safe_load


def _data_whitelist():
    return {**builtin_types(), **numpy_types()}


class _RunsShell:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _RunsEval:
    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_and_containers_load_in_every_protocol(protocol):
    data = {
        "array": np.arange(12, dtype=np.float32).reshape(3, 4),
        "indices": np.array([[1, 2, 3]], dtype=np.uint32),
        "scalar": np.float64(2.5),
        "names": {"jaw", "neck"},
        "ordered": collections.OrderedDict(a=1),
        "blob": b"\x00\xff raw",
        "nested": np.array({"inner": np.ones(2)}, dtype=object),
    }
    loaded = safe_load(pickle.dumps(data, protocol=protocol), _data_whitelist(), what="test data")
    np.testing.assert_array_equal(loaded["array"], data["array"])
    assert loaded["array"].dtype == np.float32
    np.testing.assert_array_equal(loaded["indices"], data["indices"])
    assert loaded["scalar"] == 2.5 and loaded["names"] == {"jaw", "neck"} and loaded["ordered"] == {"a": 1}
    assert loaded["blob"] == b"\x00\xff raw"
    np.testing.assert_array_equal(loaded["nested"].item()["inner"], np.ones(2))


def test_os_system_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weights": _RunsShell(f"touch {marker}")})
    with pytest.raises(UnsafeFileError) as info:
        safe_load(payload, _data_whitelist(), what="network 'evil.pkl'")
    message = str(info.value)
    assert "refusing to load network 'evil.pkl'" in message
    assert "system" in message and "nothing was executed" in message
    assert not marker.exists()


def test_hand_written_global_names_the_import(tmp_path):
    marker = tmp_path / "pwned"
    # protocol 0 by hand: GLOBAL os.system, MARK, string argument, TUPLE, REDUCE, STOP
    payload = b"cos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."
    with pytest.raises(UnsafeFileError, match=r"it imports os\.system, which is not a known data type"):
        safe_load(payload, _data_whitelist(), what="file 'x.pkl'")
    assert not marker.exists()


def test_builtins_eval_is_refused(tmp_path):
    marker = tmp_path / "evaluated"
    payload = pickle.dumps([_RunsEval(f"open({str(marker)!r}, 'w').write('x')")])
    with pytest.raises(UnsafeFileError, match=r"builtins\.eval"):
        safe_load(payload, _data_whitelist(), what="file 'x.pkl'")
    assert not marker.exists()


def test_unknown_module_and_dotted_names_are_refused():
    unknown = b"cevil_module_xyz\nmake_trouble\n)R."
    with pytest.raises(UnsafeFileError, match=r"evil_module_xyz\.make_trouble"):
        safe_load(unknown, _data_whitelist(), what="file 'x.pkl'")
    # protocol 4 STACK_GLOBAL reaching through an allowed object's attributes
    dotted = b"\x80\x04\x8c\x08builtins\x8c\x15object.__subclasses__\x93)R."
    with pytest.raises(UnsafeFileError, match=r"object\.__subclasses__"):
        safe_load(dotted, _data_whitelist(), what="file 'x.pkl'")


def test_persistent_ids_need_a_hook():
    class WithPid(pickle.Pickler):
        def persistent_id(self, obj):
            return "storage-7" if obj == "external" else None

    import io

    buffer = io.BytesIO()
    WithPid(buffer, protocol=2).dump({"w": "external"})
    with pytest.raises(UnsafeFileError, match="persistent id"):
        safe_load(buffer.getvalue(), _data_whitelist(), what="file 'x.pkl'")
    loaded = safe_load(buffer.getvalue(), _data_whitelist(), what="file 'x.pkl'",
                       persistent_load=lambda pid: f"resolved {pid}")
    assert loaded == {"w": "resolved storage-7"}


def test_malformed_and_missing_files_name_the_file(tmp_path):
    truncated = pickle.dumps({"a": np.ones(3)})[:-5]
    with pytest.raises(BadInputError, match=r"model 'a\.pkl': not a readable pickle"):
        safe_load(truncated, _data_whitelist(), what="model 'a.pkl'")
    with pytest.raises(BadInputError, match="file not found"):
        safe_load(tmp_path / "missing.pkl", _data_whitelist(), what="model 'missing.pkl'")
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps([1, 2]))
    assert safe_load(path, _data_whitelist(), what="model 'ok.pkl'") == [1, 2]
