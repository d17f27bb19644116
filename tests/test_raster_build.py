"""The custom-op build helper: cache keys, cache location, and the fallback when nothing can be built."""

import shutil
import warnings
from pathlib import Path

import pytest
import torch

from next3d.torch_utils.custom_ops import CustomOpWarning, build_extension, build_key, default_cache_dir


def test_build_key_changes_with_sources_and_flags(tmp_path):
    a, b = tmp_path / "a.cu", tmp_path / "b.cpp"
    a.write_text("__global__ void k() {}\n")
    b.write_text("int f() { return 1; }\n")
    key = build_key("op", [a, b], ["-O3"])
    assert key == build_key("op", [a, b], ["-O3"])  # stable: a rebuild happens only when something changed
    assert key != build_key("op", [a, b], ["-O3", "-fmad=false"])
    assert key != build_key("op2", [a, b], ["-O3"])
    b.write_text("int f() { return 2; }\n")
    assert key != build_key("op", [a, b], ["-O3"])


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("NEXT3D_EXTENSIONS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "next3d" / "torch_extensions"
    monkeypatch.setenv("NEXT3D_EXTENSIONS_DIR", str(tmp_path / "ext"))
    assert default_cache_dir() == tmp_path / "ext"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine's behaviour")
def test_without_a_gpu_build_returns_none_with_one_warning(tmp_path):
    source = tmp_path / "op.cu"
    source.write_text("__global__ void k() {}\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert build_extension("op", [source], cache_dir=tmp_path / "cache") is None
    messages = [str(w.message) for w in caught if issubclass(w.category, CustomOpWarning)]
    assert len(messages) == 1
    assert "CUDA extension 'op' not built" in messages[0] and "PyTorch reference" in messages[0]
    assert not (tmp_path / "cache").exists()  # nothing half-built left behind


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc to compile (and fail on) a bad source")
def test_a_failing_build_warns_with_the_compiler_error_and_keeps_the_log(monkeypatch, tmp_path):
    from torch.utils import cpp_extension

    from next3d.torch_utils import custom_ops

    # Pretend a GPU is present so the real ninja/nvcc build runs (and fails) even on a CPU-only machine.
    monkeypatch.setattr(custom_ops, "build_blocker", lambda: None)
    monkeypatch.setattr(custom_ops, "device_arch_flag", lambda device=None: "-gencode=arch=compute_90,code=sm_90")
    monkeypatch.setattr(cpp_extension, "CUDA_HOME", str(Path(shutil.which("nvcc")).resolve().parents[1]))
    bad = tmp_path / "bad.cu"
    bad.write_text("__global__ void broken( { this is not CUDA }\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert build_extension("bad_op", [bad], cache_dir=tmp_path / "cache") is None
    messages = [str(w.message) for w in caught if issubclass(w.category, CustomOpWarning)]
    assert len(messages) == 1
    assert "building CUDA extension 'bad_op' failed" in messages[0] and "bad.cu(1): error" in messages[0]
    logs = list((tmp_path / "cache").glob("bad_op-*/build_error.log"))
    assert len(logs) == 1 and "bad.cu(1): error" in logs[0].read_text() and str(logs[0]) in messages[0]
