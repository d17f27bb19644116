"""Shared pytest set-up: the repo root on sys.path, and GPU tests skipped without CUDA."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA (run on the GPU machine: tools/gpu_check.sh)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _restore_cuda_backend_flags():
    """Tests that pick a fast mode switch TF32/cuDNN autotuning process-wide; put them back afterwards."""
    import torch

    saved = (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    yield
    torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The training tests' synthetic dataset, made once per session (tests/train_support.py: synth_data)."""
    from tests.train_support import synth_data

    return synth_data(tmp_path_factory)


@pytest.fixture(scope="module")
def one_thread():
    """torch on one CPU thread for a module's tests (tests/train_support.py: single_thread); use it with
    `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    from tests.train_support import single_thread

    with single_thread():
        yield
