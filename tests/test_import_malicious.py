"""Hostile network pickles: every attempt to run code is refused with a message naming the import, and the
side effect never happens; a persistence record's module source is kept as text, never executed."""

from __future__ import annotations

import os
import pickle
import struct
import subprocess

import pytest
from test_import_layout import Node, to_pickle_objects, write_official_pickle

from next3d.errors import UnsafeFileError
from next3d.io.official_pickle import read_official_pickle
from next3d.io.official_storage import storage_from_legacy_bytes


class Reduces:
    """An object whose unpickling calls `func(*args)`."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def touch_command(marker) -> str:
    return f"touch {marker}"


CASES = {
    "os.system": lambda m: Reduces(os.system, touch_command(m)),
    "builtins.eval": lambda m: Reduces(eval, f"open({str(m)!r}, 'w').close()"),
    "builtins.exec": lambda m: Reduces(exec, f"open({str(m)!r}, 'w').close()"),
    "subprocess.check_call": lambda m: Reduces(subprocess.check_call, ["touch", str(m)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_code_running_reduces_are_refused_and_nothing_runs(tmp_path, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": CASES[name](marker), "G": None}))
    with pytest.raises(UnsafeFileError) as info:
        read_official_pickle(path)
    message = str(info.value)
    assert message.startswith(f"refusing to load network pickle '{path}': it imports ")
    assert name.split(".")[1] in message and "nothing was executed" in message
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [
    ("evil_package.payload", "Payload"),  # an unknown module's class
    ("torch_utils.persistence", "_src_to_module"),  # the official exec() helper itself
    ("training.networks_stylegan2", "modulated_conv2d"),  # a function of an allowed package
    ("torch", "load"),
    ("torch.nn.modules.container", "Sequential.__init__"),  # reaching through an allowed class
])
def test_globals_outside_the_whitelist_are_refused(tmp_path, module, name):
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R.")
    with pytest.raises(UnsafeFileError, match=f"it imports {module}.{name}, which is not a known data type"):
        read_official_pickle(path)


def test_module_source_in_a_persistence_record_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    source = f"import os\nos.system({touch_command(marker)!r})\nopen({str(marker)!r}, 'w').close()\n"
    node = Node("TriPlaneGenerator", params={"w": (2,)}, modules={"b": Node("SynthesisBlock", params={"c": (1,)})})
    write_official_pickle(tmp_path / "net.pkl", {"G_ema": to_pickle_objects(node, {}, module_src=source)})
    record = read_official_pickle(tmp_path / "net.pkl").network("G_ema")
    assert record.module_src == source and record.state["_modules"]["b"].module_src == source
    assert not marker.exists()


def test_storage_blob_with_a_code_running_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    header = b"".join(pickle.dumps(v, protocol=2) for v in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}))
    blob = header + pickle.dumps(Reduces(os.system, touch_command(marker)), protocol=2)
    with pytest.raises(UnsafeFileError, match="system, which is not a known data type"):
        storage_from_legacy_bytes(blob, "network pickle 'x.pkl'")
    # The same blob inside a network pickle, reached through torch.storage._load_from_bytes(blob).
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"\x80\x03}X\x05\x00\x00\x00G_emactorch.storage\n_load_from_bytes\nB"
                     + struct.pack("<I", len(blob)) + blob + b"\x85Rs.")
    with pytest.raises(UnsafeFileError, match=r"refusing to load network pickle .*\(tensor storage\)"):
        read_official_pickle(path)
    assert not marker.exists()
