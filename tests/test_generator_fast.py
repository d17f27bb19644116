"""The CUDA-graph fast path equals the eager generator, for every kind of update (GPU only)."""

import dataclasses

import pytest
import torch

from next3d.head import HeadParams, load_default_head
from next3d.networks.cuda_graphs import GraphedGenerator, pack_inputs, unpack_inputs
from next3d.networks.generator import Next3DGenerator, RenderOptions
from next3d.networks.inference import InferenceGenerator, make_renderer
from next3d.networks.presets import preset_config
from next3d.networks.staged import StagedGenerator
from next3d.render import camera

# Replay runs the captured kernels on the same buffers; only cuDNN's algorithm choice between the eager
# run and the capture differs. The super-resolution blocks compute in fp16 on CUDA (the official setting),
# so that moves the image by fp16 rounding: max 3.4e-4 and 5.9e-3 measured in two runs on the paper preset
# (H100, images in [-1, 1]). A stale or wrongly chained buffer would be off by O(0.1-1) everywhere.
REPLAY_TOL = 2e-2
REPLAY_MEAN_TOL = 1e-3


def _setup(preset):
    torch.manual_seed(0)
    head = load_default_head()
    G = Next3DGenerator(preset_config(preset), head).eval().requires_grad_(False).cuda()
    cams = [camera.make_label(camera.orbit_pose(y, p)).cuda() for y, p in ((0.0, 0.0), (0.5, -0.1))]
    heads = [HeadParams.neutral(head, 1, device="cuda") for _ in range(2)]
    heads[1].jaw[:, 0] = 0.25
    heads[1].expression[:, head.expr_names.index("mouthSmileLeft")] = 1.0
    ws = [G.mapping(torch.randn(1, G.z_dim, device="cuda"), cams[0]) for _ in range(2)]
    return G, cams, heads, ws


@pytest.mark.gpu
@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_graph_replay_equals_eager_for_every_update(preset):
    G, cams, heads, ws = _setup(preset)
    graphed, eager = GraphedGenerator(G), InferenceGenerator(G)
    sequence = [(0, 0, 0, ("latent", "head", "camera")), (0, 1, 0, ("camera",)), (0, 1, 1, ("head", "camera")),
                (1, 1, 1, ("latent", "head", "camera")), (1, 1, 1, ()), (1, 0, 0, ("head", "camera"))]
    with torch.no_grad():
        for w, c, h, expected in sequence:
            out = graphed.render(ws[w], cams[c], heads[h])
            assert graphed.stats.ran == expected
            ref = eager.synthesis(ws[w], cams[c], heads[h])
            for name in ("image", "image_raw", "depth", "alpha"):
                diff = (getattr(out, name) - getattr(ref, name)).abs()
                assert diff.max().item() <= REPLAY_TOL, f"{name} differs by {diff.max().item()} after {(w, c, h)}"
                assert diff.mean().item() <= REPLAY_MEAN_TOL, f"{name}: mean difference {diff.mean().item()}"


@pytest.mark.gpu
def test_fast_mode_renderer_on_cuda_is_graphed_and_close_to_fp32():
    G, cams, heads, ws = _setup("small")
    fast = make_renderer(G, "fast")
    assert isinstance(fast, GraphedGenerator)
    with torch.no_grad():
        image = fast.render(ws[0], cams[1], heads[1]).image.clone()
        ref = StagedGenerator(InferenceGenerator(G)).render(ws[0], cams[1], heads[1]).image
    # TF32 convolutions/matmuls: ~1e-3 relative rounding per layer.
    assert (image - ref).abs().mean() < 0.01 and (image - ref).abs().max() < 0.1


@pytest.mark.gpu
def test_random_options_are_refused_by_graphs():
    G, cams, heads, ws = _setup("tiny")
    with pytest.raises(ValueError, match="fixed randomness"):
        GraphedGenerator(G).render(ws[0], cams[0], heads[0], RenderOptions(perturb=True))


def test_cpu_fast_mode_falls_back_to_cached_eager_stages():
    G = Next3DGenerator(preset_config("tiny"), load_default_head())
    assert isinstance(make_renderer(G, "fast"), StagedGenerator)


@pytest.mark.gpu
def test_official_layout_is_not_graphed_because_its_head_stage_syncs():
    G = Next3DGenerator(preset_config("tiny", official_plane_layout=True), load_default_head()).cuda()
    assert isinstance(make_renderer(G, "fast"), StagedGenerator)


def test_packed_graph_inputs_round_trip_camera_and_head():
    """The graphs read camera and head from views into one flat buffer: packing and unpacking must not mix fields."""
    head = load_default_head()
    params = HeadParams.neutral(head, 2)
    for k, name in enumerate(f.name for f in dataclasses.fields(HeadParams)):
        setattr(params, name, torch.randn_like(getattr(params, name)) + k)
    c = camera.make_label(camera.orbit_pose(torch.tensor([0.1, -0.4]), torch.tensor([0.0, 0.2])))
    flat = pack_inputs(c, params)
    assert flat.ndim == 1 and flat.dtype == torch.float32
    c2, params2 = unpack_inputs(flat, c, params)
    assert torch.equal(c2, c) and c2.data_ptr() == flat.data_ptr()  # views, not copies
    for f in dataclasses.fields(HeadParams):
        assert torch.equal(getattr(params2, f.name), getattr(params, f.name)), f.name
