"""The composed Next3D generator (tiny preset, CPU): shapes, determinism, staging, locality, gradients."""

import pytest
import torch

from next3d.head import HeadParams, load_default_head
from next3d.networks.discriminator import DualDiscriminator
from next3d.networks.generator import Next3DGenerator, RenderOptions
from next3d.networks.presets import GeneratorConfig, preset_config
from next3d.networks.staged import StagedGenerator
from next3d.render import camera


@pytest.fixture(scope="module")
def head():
    return load_default_head()


@pytest.fixture(scope="module")
def G(head):
    torch.manual_seed(0)
    return Next3DGenerator(preset_config("tiny"), head).eval()


def labels(yaw=0.0, pitch=0.0, batch=1):
    return camera.make_label(camera.orbit_pose(torch.full((batch,), yaw), torch.full((batch,), pitch)))


def smile(head, batch=1, amount=1.0):
    params = HeadParams.neutral(head, batch)
    for name in ("mouthSmileLeft", "mouthSmileRight", "jawOpen"):
        params.expression[:, head.expr_names.index(name)] = amount
    params.jaw[:, 0] = 0.25 * amount
    return params


def test_output_shapes_and_ranges(G, head):
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        out = G(z, labels(batch=2), HeadParams.neutral(head, 2), options=RenderOptions(return_intermediates=True))
    res, neural = G.img_resolution, G.config.neural_rendering_resolution
    assert out.image.shape == (2, 3, res, res)
    assert out.image_raw.shape == (2, 3, neural, neural)
    assert out.depth.shape == out.alpha.shape == (2, 1, neural, neural)
    assert out.planes.shape == (2, 3, G.config.plane_channels, G.config.plane_resolution, G.config.plane_resolution)
    assert out.texture.shape[-1] == G.config.plane_resolution
    assert torch.isfinite(out.image).all() and torch.isfinite(out.depth).all()
    assert (out.alpha >= 0).all() and (out.alpha <= 1 + 1e-5).all()
    ray = G.config.rendering
    assert (out.depth >= ray.ray_start - 1e-4).all() and (out.depth <= ray.ray_end + 1e-4).all()
    # The mesh covers part of every plane: the dynamic texture is in use.
    assert (out.plane_alpha.flatten(2).amax(-1) > 0.5).all()


def test_deterministic_for_fixed_inputs_and_seed(head):
    torch.manual_seed(3)
    a = Next3DGenerator(preset_config("tiny"), head).eval()
    torch.manual_seed(3)
    b = Next3DGenerator(preset_config("tiny"), head).eval()
    z = torch.randn(1, 512)
    with torch.no_grad():
        ia = a(z, labels(), HeadParams.neutral(head)).image
        ib = b(z, labels(), HeadParams.neutral(head)).image
        ia2 = a(z, labels(), HeadParams.neutral(head)).image
    assert torch.equal(ia, ib) and torch.equal(ia, ia2)


def test_truncation_cutoff_pulls_first_rows_to_w_avg(G):
    z = torch.randn(3, G.z_dim)
    ws = G.mapping(z, labels(batch=3), truncation_psi=0.0, truncation_cutoff=G.eg3d_num_ws)
    w_avg = G.backbone.mapping.w_avg
    assert torch.allclose(ws[:, : G.eg3d_num_ws], w_avg.expand_as(ws[:, : G.eg3d_num_ws]))
    free = G.mapping(z, labels(batch=3))
    assert torch.equal(ws[:, G.eg3d_num_ws:], free[:, G.eg3d_num_ws:])


def test_staged_cache_equals_full_recompute_bit_for_bit(G, head):
    staged = StagedGenerator(G)
    ws = G.mapping(torch.randn(1, G.z_dim), labels())
    neutral, smiling = HeadParams.neutral(head), smile(head)
    full = lambda w, c, h: G.synthesis(w, c, h).image
    with torch.no_grad():
        staged.render(ws, labels(), neutral)
        assert staged.stats.ran == ("latent", "head", "camera")
        # Camera-only change: only the camera stage runs, and the image equals a full recompute.
        img = staged.render(ws, labels(yaw=0.4), neutral).image
        assert staged.stats.ran == ("camera",)
        assert torch.equal(img, full(ws, labels(yaw=0.4), neutral))
        # Expression change: head + camera stages.
        img = staged.render(ws, labels(yaw=0.4), smiling).image
        assert staged.stats.ran == ("head", "camera")
        assert torch.equal(img, full(ws, labels(yaw=0.4), smiling))
        # A new latent re-runs everything; going back to a cached state is exact too.
        ws2 = G.mapping(torch.randn(1, G.z_dim), labels())
        img = staged.render(ws2, labels(yaw=0.4), smiling).image
        assert staged.stats.ran == ("latent", "head", "camera")
        assert torch.equal(img, full(ws2, labels(yaw=0.4), smiling))
        # Nothing changed: nothing runs.
        again = staged.render(ws2, labels(yaw=0.4), smiling).image
        assert staged.stats.ran == () and torch.equal(again, img)
        # In-place edits of the caller's tensors are seen (inputs are compared by value, not identity).
        smiling.expression[:, 0] = 0.7
        staged.render(ws2, labels(yaw=0.4), smiling)
        assert staged.stats.ran == ("head", "camera")


def test_expression_changes_only_the_planes_the_mesh_covers(G, head):
    ws = G.mapping(torch.randn(1, G.z_dim), labels())
    opts = RenderOptions(return_intermediates=True)
    with torch.no_grad():
        lat = G.latent_stage(ws)
        a = G.head_stage(lat, ws, HeadParams.neutral(head), opts)
        b = G.head_stage(lat, ws, smile(head), opts)
    changed = (a.planes - b.planes).abs().amax(dim=2, keepdim=True) > 0  # (1, 3, 1, P, P)
    covered = (a.alpha > 0) | (b.alpha > 0)
    assert changed.any(), "an expression change must change the planes"
    assert not (changed & ~covered).any(), "planes changed where the mesh covers nothing"
    # Where the mesh covers nothing the planes are exactly the static tri-plane.
    static = lat.static_planes.expand_as(a.planes)
    assert torch.equal(a.planes.masked_select(~covered.expand_as(a.planes)),
                       static.masked_select(~covered.expand_as(a.planes)))
    # The mouth region of the front plane is where most of the change is.
    front_change = (a.planes - b.planes)[0, 0].abs().sum(0)
    assert front_change.sum() > (a.planes - b.planes)[0, 1].abs().sum()


def test_camera_yaw_changes_the_image_and_keeps_the_planes(G, head):
    ws = G.mapping(torch.randn(1, G.z_dim), labels())
    with torch.no_grad():
        lat = G.latent_stage(ws)
        planes = G.head_stage(lat, ws, HeadParams.neutral(head))
        front = G.camera_stage(planes, ws, labels())
        side = G.camera_stage(planes, ws, labels(yaw=0.6))
    assert (front.image - side.image).abs().mean() > 1e-3


def test_one_generator_and_one_discriminator_step_reach_every_parameter(head):
    torch.manual_seed(1)
    cfg = preset_config("tiny")
    G = Next3DGenerator(cfg, head).train()
    D = DualDiscriminator(cfg.discriminator()).train()
    c = labels(yaw=0.2, batch=2)
    opts = RenderOptions(noise_mode="random", sr_noise_mode="random", perturb=True)
    out = G(torch.randn(2, G.z_dim), c, smile(head, 2, 0.5), options=opts)
    logits = D(out.image, out.image_raw, c)
    torch.nn.functional.softplus(-logits).mean().backward()
    missing = [n for n, p in G.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"generator parameters without gradient: {missing}"
    D.zero_grad()
    real = torch.rand(2, 3, cfg.img_resolution, cfg.img_resolution) * 2 - 1
    real_raw = torch.nn.functional.interpolate(real, size=cfg.neural_rendering_resolution, mode="area")
    (torch.nn.functional.softplus(D(out.image.detach(), out.image_raw.detach(), c))
     + torch.nn.functional.softplus(-D(real, real_raw, c))).mean().backward()
    missing = [n for n, p in D.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"discriminator parameters without gradient: {missing}"


def test_state_dict_excludes_the_head_and_round_trips(G, head):
    state = G.state_dict()
    assert not any(k.startswith("head.") for k in state)
    assert "backbone.mapping.fc0.weight" in state and "decoder.net.0.weight" in state
    clone = Next3DGenerator(G.config, head)
    clone.load_state_dict(state)  # strict: the head buffers are not expected in a weights file
    for k, v in clone.state_dict().items():
        assert torch.equal(v, state[k])


def test_config_json_round_trip():
    cfg = preset_config("small")
    import json

    again = GeneratorConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    with pytest.raises(Exception, match="unknown settings"):
        GeneratorConfig.from_dict({**cfg.to_dict(), "bogus": 1})


def test_generator_accepts_explicit_vertices(G, head):
    ws = G.mapping(torch.randn(1, G.z_dim), labels())
    params = smile(head)
    vertices = head(params).vertices
    with torch.no_grad():
        a = G.synthesis(ws, labels(), params).image
        b = G.synthesis(ws, labels(), vertices).image
    assert torch.allclose(a, b, atol=1e-5)
