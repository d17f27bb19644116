"""Atomic writes leave the old file or the new one, and give the new one ordinary permissions (not the owner-only
ones of a temporary file), so exported models and rendered videos are readable by the people they are for."""

import os
import stat
import sys

import pytest

from next3d.utils.atomic import atomic_dir, atomic_path, atomic_write_bytes

pytestmark = pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX permission bits")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_gets_the_umask_permissions_and_an_existing_one_keeps_its_own(tmp_path, umask_022):
    new = tmp_path / "model.safetensors"
    atomic_write_bytes(new, b"weights")
    assert new.read_bytes() == b"weights" and mode(new) == 0o644

    private = tmp_path / "private.json"
    private.write_text("old")
    private.chmod(0o600)
    atomic_write_bytes(private, b"new")
    assert private.read_bytes() == b"new" and mode(private) == 0o600

    folder = tmp_path / "samples"
    with atomic_dir(folder) as tmp:
        (tmp / "a.txt").write_text("x")
    assert mode(folder) == 0o755 and (folder / "a.txt").read_text() == "x"


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["state.json"]
