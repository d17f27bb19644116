"""The visualizer's renderer on a GPU: 'fast' replays CUDA graphs with the Triton kernels, re-runs only the
stages whose inputs changed, and its pictures stay close to the fp32 reference (GPU only)."""

import numpy as np
import pytest
import torch

from next3d.capture.render_args import RenderArgs
from next3d.capture.renderer import Renderer
from next3d.networks.cuda_graphs import GraphedGenerator

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

SMALL = "builtin:small-random"


def _render(renderer, **changes):
    result = renderer.render(RenderArgs(checkpoint=SMALL, device="cuda", **changes))
    assert result.error == "", result.error
    return result


def test_fast_frames_are_graphed_cached_and_close_to_fp32():
    renderer, reference_renderer = Renderer(device="cuda"), Renderer(device="cuda")
    updates = [dict(latent_x=1.0), dict(latent_x=1.0, yaw=0.4), dict(latent_x=1.0, yaw=0.4, jaw=(0.3, 0, 0)),
               dict(latent_x=2.0, yaw=-0.3, jaw=(0.3, 0, 0))]
    expected = [("latent", "head", "camera"), ("camera",), ("head", "camera"), ("latent", "head", "camera")]
    for changes, stages in zip(updates, expected):
        fast = _render(renderer, precision="fast", **changes)
        assert isinstance(renderer._graphed, GraphedGenerator)
        assert fast.stages_ran == stages
        reference = _render(reference_renderer, precision="fp32", **changes)
        # TF32 convolutions and the fp32-accumulating FIR kernel: a few uint8 levels on average.
        assert np.abs(fast.image.astype(int) - reference.image.astype(int)).mean() < 3.0


def test_fast_without_stage_cache_reruns_every_stage():
    renderer = Renderer(device="cuda")
    _render(renderer, precision="fast")
    assert _render(renderer, precision="fast", stage_cache=False).stages_ran == ("latent", "head", "camera")


def test_graph_captures_are_bounded_when_the_neural_resolution_changes():
    renderer = Renderer(device="cuda")
    for res in (32, 48, 64, 80, 96, 112):
        assert _render(renderer, precision="fast", neural_res=res).image.shape == (128, 128, 3)
    assert len(renderer._graphed._captured) <= 4
