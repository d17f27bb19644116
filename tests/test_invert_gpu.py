"""The inversion on a CUDA device: same losses as on the CPU, a full run with PTI and saved outputs."""

from __future__ import annotations

import pytest
import torch
from test_invert_support import (
    TEST_NEURAL_RES,
    as_target,
    contrasted_generator,
    render_target,
    sample_latent,
)

from next3d.invert.camera_fit import OrbitCamera
from next3d.invert.outputs import save_inversion
from next3d.invert.pipeline import run_inversion
from next3d.invert.settings import InversionSettings

SETTINGS = {"neural_rendering_resolution": TEST_NEURAL_RES, "stats_samples": 256, "yaw_candidates": (-0.4, 0.0, 0.4),
            "pitch_candidates": (-0.15, 0.15)}


@pytest.mark.gpu
def test_cuda_search_matches_the_cpu_and_a_full_run_improves_and_saves(tmp_path):
    G = contrasted_generator()
    target = as_target(render_target(G, sample_latent(G, seed=5, psi=0.5), OrbitCamera(0.25, -0.1)))
    settings = InversionSettings(steps=0, **SETTINGS)
    cpu = run_inversion(G, target, settings)
    G_cuda = contrasted_generator().cuda()
    gpu = run_inversion(G_cuda, target, settings)
    for a, b in zip(cpu.camera_search, gpu.camera_search):
        assert (a["yaw"], a["pitch"]) == (b["yaw"], b["pitch"])
        assert abs(a["loss"] - b["loss"]) < 1e-3 * max(1.0, a["loss"])

    result = run_inversion(G_cuda, target, InversionSettings(steps=40, pti_steps=10, **SETTINGS))
    assert result.psnr_latent > result.psnr_before + 8.0 and result.psnr_after > result.psnr_latent
    assert abs(result.camera.yaw - 0.25) < 0.08 and abs(result.camera.pitch + 0.1) < 0.08
    assert next(result.tuned_generator.parameters()).is_cuda and result.ws.device.type == "cpu"
    out = save_inversion(tmp_path / "out", result, G_cuda, {"checkpoint": "test"}, settings.to_dict(),
                         turntable_frames=4)
    assert (out / "turntable.mp4").is_file() and (out / "tuned.safetensors").is_file()
    assert torch.cuda.memory_allocated() < 4 * 2**30
