"""Inverting a render of a known latent and camera: the re-render matches the target, the camera is found, pivotal
tuning improves the match further and leaves the original generator untouched."""

from __future__ import annotations

import math
import threading

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
from next3d.invert.pipeline import run_inversion
from next3d.invert.settings import InversionSettings

TRUE_CAMERA = OrbitCamera(yaw=0.25, pitch=-0.1)  # between the coarse grid's candidates
CAMERA_TOLERANCE = 0.08  # radians (4.6 degrees), yaw and pitch each
FAST = {"neural_rendering_resolution": TEST_NEURAL_RES, "stats_samples": 256, "yaw_candidates": (-0.4, 0.0, 0.4),
        "pitch_candidates": (-0.15, 0.15)}


@pytest.fixture(scope="module")
def inverted():
    """One inversion from w_avg with an unknown camera, then 8 PTI steps; the truth is a psi = 0.5 sample (like
    faces of a trained model, it shares structure with the mean, which is what the coarse camera search needs)."""
    G = contrasted_generator()
    weights = {k: v.clone() for k, v in G.state_dict().items()}
    target = render_target(G, sample_latent(G, seed=5, psi=0.5), TRUE_CAMERA)
    steps = []
    result = run_inversion(G, as_target(target), InversionSettings(steps=25, pti_steps=8, **FAST),
                           callback=lambda p: steps.append(p))
    return G, weights, result, steps


def test_rerender_matches_the_target_far_better_than_the_w_avg_start(inverted):
    _, _, result, _ = inverted
    print(f"PSNR w_avg start {result.psnr_before:.2f} dB -> latent fit {result.psnr_latent:.2f} dB "
          f"-> PTI {result.psnr_after:.2f} dB")
    assert result.init.startswith("w_avg")
    assert result.psnr_latent > result.psnr_before + 8.0
    assert result.psnr_latent > 25.0


def test_the_camera_is_recovered(inverted):
    _, _, result, _ = inverted
    assert not result.camera_given and result.steps["camera_search"] == 6
    print(f"camera yaw {result.camera.yaw:+.3f} (true {TRUE_CAMERA.yaw:+.3f}), "
          f"pitch {result.camera.pitch:+.3f} (true {TRUE_CAMERA.pitch:+.3f})")
    assert abs(result.camera.yaw - TRUE_CAMERA.yaw) < CAMERA_TOLERANCE
    assert abs(result.camera.pitch - TRUE_CAMERA.pitch) < CAMERA_TOLERANCE


def test_pivotal_tuning_improves_further_and_never_touches_the_original(inverted):
    G, weights, result, _ = inverted
    assert result.tuned_generator is not None and result.tuned_generator is not G
    assert result.psnr_after > result.psnr_latent + 0.5
    after = G.state_dict()
    assert all(torch.equal(weights[k], after[k]) for k in weights)
    assert not any(p.requires_grad for p in G.parameters())
    tuned = result.tuned_generator.state_dict()
    assert any(not torch.equal(weights[k], tuned[k]) for k in weights if k.startswith("superresolution."))
    assert all(torch.equal(weights[k], tuned[k]) for k in weights if k.startswith("backbone.mapping."))


def test_every_step_reaches_the_callback_with_a_picture(inverted):
    _, _, result, steps = inverted
    phases = [p.phase for p in steps]
    assert phases.count("camera_search") == 6 and phases.count("latent") == 25 and phases.count("pti") == 8
    last = steps[-1]
    assert last.image.shape == (64, 64, 3) and last.image.dtype.name == "uint8"
    assert all(math.isfinite(p.loss) and math.isfinite(p.psnr) for p in steps)
    assert len(result.history) == len(steps)
    assert result.ws.shape == (1, 20, 512) and torch.isfinite(result.ws).all()


def test_a_callback_returning_false_or_a_set_event_stops_it_early():
    G = contrasted_generator()
    target = as_target(render_target(G, sample_latent(G, seed=3), OrbitCamera()))
    settings = InversionSettings(steps=50, **FAST)
    result = run_inversion(G, target, settings, camera=OrbitCamera(),
                           callback=lambda p: not (p.phase == "latent" and p.step == 2))
    assert result.cancelled and result.steps["latent"] == 2

    cancel = threading.Event()
    seen = []

    def worker_callback(progress):  # runs in the worker thread, as in the GUI
        seen.append(progress.step)
        cancel.set()

    box = {}
    thread = threading.Thread(target=lambda: box.update(result=run_inversion(
        G, target, settings, camera=OrbitCamera(), callback=worker_callback, cancel=cancel)))
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive() and box["result"].cancelled and box["result"].steps["latent"] == 1
