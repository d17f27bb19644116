"""The custom-op build helper: cache keys, cache location, and the fallback when nothing can be built."""

import warnings

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
