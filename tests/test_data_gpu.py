"""`dataset synth` on CUDA: renders are deterministic (same scene -> same bytes) and match the CPU render."""

from __future__ import annotations

import pytest
import torch

from next3d.data.head_render import SynthRenderer
from next3d.data.scene import sample_scenes
from tests.test_data_xflip import tiny_head


@pytest.mark.gpu
def test_cuda_synth_render_is_deterministic_and_matches_cpu():
    head = tiny_head()
    scenes = sample_scenes(11, list(range(8)), head)
    cuda = SynthRenderer(head, 64, 2, "cuda")
    first, second = cuda.render(scenes), cuda.render(scenes)
    assert torch.equal(first, second)
    cpu = SynthRenderer(head, 64, 2, "cpu").render(scenes)
    diff = (first.float() - cpu.float()).abs()
    assert diff.mean() < 0.5, f"mean difference {diff.mean():.3f} levels"
    assert (diff > 8).float().mean() < 0.002  # only pixels on a silhouette edge may differ visibly


@pytest.mark.gpu
def test_cuda_synth_default_head_renders_heads(tmp_path):
    from next3d.data.dataset import HeadDataset
    from next3d.data.synth import synth_dataset
    from next3d.data.synth_settings import SynthSettings
    from next3d.head import load_default_head

    head = load_default_head()
    settings = SynthSettings(n=64, resolution=128, seed=0, batch=32, supersample=2, head_name=head.name,
                             head_hash=head.content_hash(), device_type="cuda")
    report = synth_dataset(tmp_path / "ds", settings, head, "cuda", progress=False)
    assert report.finished
    data = HeadDataset(tmp_path / "ds", xflip=True)
    assert len(data) == 128 and data[70].flipped
    images = torch.stack([data[i].image for i in range(64)]).float()
    assert images.std(dim=0).mean() > 10  # the images vary
