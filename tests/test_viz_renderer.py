"""RenderArgs -> picture with the real generator (tiny preset, random weights), as the GUI and CLI use it."""

import numpy as np
import pytest
import torch

from next3d.capture.latents import z_from_seed
from next3d.capture.render_args import BUILTIN_TINY, RenderArgs
from next3d.capture.renderer import Renderer


@pytest.fixture(scope="module")
def renderer():
    return Renderer(device="cpu")


def _image(renderer, **changes):
    result = renderer.render(RenderArgs(**changes))
    assert result.error == "", result.error
    return result


def test_model_facts_describe_the_random_tiny_model(renderer):
    result = _image(renderer)
    facts = result.model
    assert facts.random_weights and facts.checkpoint == BUILTIN_TINY and facts.preset == "tiny"
    assert facts.expressions_named and len(facts.expression_names) == 52 and "jawOpen" in facts.expression_names
    assert result.image.shape == (facts.img_resolution, facts.img_resolution, 3) and result.image.dtype == np.uint8


def test_only_the_stages_whose_inputs_changed_run_again(renderer):
    _image(renderer, latent_x=2.0)
    assert _image(renderer, latent_x=2.0, yaw=0.3).stages_ran == ("camera",)
    assert _image(renderer, latent_x=2.0, yaw=0.3, jaw=(0.3, 0.0, 0.0)).stages_ran == ("head", "camera")
    assert _image(renderer, latent_x=3.0, yaw=0.3, jaw=(0.3, 0.0, 0.0)).stages_ran == ("latent", "head", "camera")


def test_an_unchanged_latent_is_the_same_tensor_so_graph_replays_need_no_comparison(renderer):
    _image(renderer, latent_x=5.0)
    first = renderer.last_ws
    _image(renderer, latent_x=5.0, yaw=0.4, jaw=(0.2, 0.0, 0.0))  # camera and head do not change the latent
    assert renderer.last_ws is first
    _image(renderer, latent_x=6.0)
    assert renderer.last_ws is not first and not torch.equal(renderer.last_ws, first)


def test_switching_models_never_reuses_the_other_models_latent(tmp_path):
    renderer = Renderer(device="cpu")
    _save_tiny(tmp_path / "a.safetensors", 1)
    _save_tiny(tmp_path / "b.safetensors", 2)
    latents = []
    for name in ("a", "b", "a"):
        _image(renderer, checkpoint=str(tmp_path / f"{name}.safetensors"), latent_x=3.0)
        latents.append(renderer.last_ws.clone())
    assert not torch.allclose(latents[0], latents[1]) and torch.equal(latents[0], latents[2])


def test_cached_and_uncached_frames_are_identical(renderer):
    _image(renderer, latent_x=4.0)
    cached = _image(renderer, latent_x=4.0, pitch=0.2)
    full = _image(renderer, latent_x=4.0, pitch=0.2, stage_cache=False)
    assert full.stages_ran == ("latent", "head", "camera")
    assert np.array_equal(cached.image, full.image)


def test_seed_walk_blends_neighbouring_seeds_in_w(renderer):
    renderer.render(RenderArgs(latent_x=5.0))
    w5 = renderer.last_ws.clone()
    renderer.render(RenderArgs(latent_x=6.0))
    w6 = renderer.last_ws.clone()
    renderer.render(RenderArgs(latent_x=5.25))
    assert torch.allclose(renderer.last_ws, 0.75 * w5 + 0.25 * w6, atol=1e-5)


def test_truncation_to_zero_makes_every_seed_the_average_head(renderer):
    a = _image(renderer, latent_x=1.0, psi=0.0).image
    b = _image(renderer, latent_x=9.0, psi=0.0).image
    c = _image(renderer, latent_x=9.0, psi=1.0).image
    assert np.array_equal(a, b) and not np.array_equal(b, c)


def test_style_mixing_takes_the_chosen_rows_from_the_other_seed(renderer):
    renderer.render(RenderArgs(latent_x=7.0))
    w7 = renderer.last_ws.clone()
    renderer.render(RenderArgs(latent_x=1.0))
    w1 = renderer.last_ws.clone()
    _image(renderer, latent_x=1.0, mix_seed=7, mix_start=2, mix_stop=5)
    mixed = renderer.last_ws
    assert torch.equal(mixed[:, 2:5], w7[:, 2:5]) and torch.equal(mixed[:, :2], w1[:, :2])
    assert torch.equal(mixed[:, 5:], w1[:, 5:])


def test_a_saved_latent_replaces_the_seed(renderer, tmp_path):
    np.savez(tmp_path / "z.npz", z=z_from_seed(11, 512))
    assert np.array_equal(_image(renderer, latent_file=str(tmp_path / "z.npz")).image,
                          _image(renderer, latent_x=11.0).image)
    np.savez(tmp_path / "w.npz", w=np.zeros((3, 512), np.float32))
    assert "'w' has shape (3, 512)" in renderer.render(RenderArgs(latent_file=str(tmp_path / "w.npz"))).error


@pytest.mark.parametrize("render_type, shape", [("raw", (32, 32, 3)), ("depth", (32, 32, 3)), ("alpha", (32, 32, 3)),
                                                ("texture", (64, 64, 3)), ("planes", (64, 192, 3))])
def test_every_render_type_gives_a_picture(renderer, render_type, shape):
    image = _image(renderer, render_type=render_type).image
    assert image.shape == shape and image.dtype == np.uint8
    if render_type == "alpha":
        assert np.all(image[..., 0] == image[..., 1])  # grey


def test_neural_resolution_and_sample_multipliers_reach_the_generator(renderer):
    assert _image(renderer, render_type="raw", neural_res=16).image.shape == (16, 16, 3)
    coarse = _image(renderer, render_type="depth", depth_mult=0.5, depth_importance_mult=0.5).image
    assert not np.array_equal(coarse, _image(renderer, render_type="depth").image)


def test_mesh_and_landmark_overlays_are_drawn_where_the_head_is(renderer):
    plain = _image(renderer).image
    drawn = _image(renderer, show_mesh=True, show_landmarks=True).image
    assert drawn.shape == (256, 256, 3)  # small renders are enlarged before drawing
    landmark_red = (drawn[..., 0] == 255) & (drawn[..., 1] == 70) & (drawn[..., 2] == 60)
    assert landmark_red.sum() >= 26  # 26 landmarks, at least a pixel each
    ys, xs = np.nonzero(landmark_red)
    assert 0.3 < xs.mean() / 256 < 0.7 and 0.3 < ys.mean() / 256 < 0.8  # on the face, frontal camera
    changed = np.abs(drawn[::4, ::4].astype(int) - plain.astype(int)).sum(-1) > 30
    assert 0.05 < changed.mean() < 0.9  # the wireframe covers the head, not the whole picture


def test_fast_precision_stays_close_to_fp32(renderer):
    reference = _image(renderer, latent_x=2.0).image.astype(int)
    fast = _image(renderer, latent_x=2.0, precision="fast").image.astype(int)
    assert np.abs(fast - reference).mean() < 3.0


@pytest.mark.parametrize("changes, message", [
    (dict(expression=(0.1,) * 60), "expression: 60 values given, head model 'next3d-default' has 52"),
    (dict(yaw=float("nan")), "yaw must be a finite number"),
    (dict(checkpoint="/nonexistent/x.safetensors"), "no such checkpoint file"),
    (dict(checkpoint="builtin:huge"), "unknown built-in model"),
    (dict(mix_seed=3, mix_start=0, mix_stop=99), "the model has 20 w rows"),
])
def test_bad_args_become_one_line_errors_not_exceptions(renderer, changes, message):
    result = renderer.render(RenderArgs(**changes), stamp=7)
    assert message in result.error and "\n" not in result.error
    assert result.image is None and result.stamp == 7


def _save_tiny(path, seed):
    from next3d.head import load_default_head
    from next3d.io.generator_file import save_generator
    from next3d.networks.generator import Next3DGenerator
    from next3d.networks.presets import preset_config

    torch.manual_seed(seed)
    save_generator(path, Next3DGenerator(preset_config("tiny"), load_default_head()), training={"kimg": seed})


def test_a_run_directory_opens_its_latest_snapshot(tmp_path):
    run = tmp_path / "run"
    _save_tiny(run / "snapshot-000004.safetensors", 4)
    _save_tiny(run / "snapshot-000008.safetensors", 8)
    renderer = Renderer(device="cpu")
    from_run = _image(renderer, checkpoint=str(run))
    assert from_run.model.checkpoint.endswith("snapshot-000008.safetensors") and not from_run.model.random_weights
    assert "8 kimg" in from_run.model.description
    latest = _image(renderer, checkpoint=str(run / "snapshot-000008.safetensors")).image
    older = _image(renderer, checkpoint=str(run / "snapshot-000004.safetensors")).image
    assert np.array_equal(from_run.image, latest) and not np.array_equal(latest, older)


def test_a_checkpoint_for_another_architecture_is_named_not_crashed(tmp_path):
    from next3d.io.checkpoint import load_checkpoint, save_checkpoint

    _save_tiny(tmp_path / "g.safetensors", 1)
    ckpt = load_checkpoint(tmp_path / "g.safetensors")
    state = dict(ckpt.tensors["G_ema"])
    key = next(k for k, v in state.items() if v.ndim == 2)
    state[key] = torch.zeros(3, 3)
    save_checkpoint(tmp_path / "bad.safetensors", {"G_ema": state}, ckpt.meta)
    result = Renderer(device="cpu").render(RenderArgs(checkpoint=str(tmp_path / "bad.safetensors")))
    assert "weights do not fit the architecture" in result.error and key in result.error


@pytest.mark.parametrize("exc, message", [
    (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "out of memory: lower the neural"),
    (RuntimeError("The size of tensor a (52) must match the size of tensor b (50) at non-singleton dimension 1 "
                  "(shape [1, 52])"), "shape mismatch: The size of tensor a (52)"),
    (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
])
def test_failures_inside_the_model_become_one_line_errors(monkeypatch, exc, message):
    renderer = Renderer(device="cpu")

    def fail(result, args):
        raise exc

    monkeypatch.setattr(renderer, "_render_into", fail)  # stands in for a failure deep inside the generator
    result = renderer.render(RenderArgs())
    assert result.error.startswith(message) and "\n" not in result.error and result.image is None


def test_the_embedded_default_opens_when_shipped_else_the_labelled_random_model(monkeypatch, tmp_path):
    from next3d.capture import renderer as renderer_module

    monkeypatch.setattr(renderer_module, "DEFAULT_CHECKPOINT", tmp_path / "next3d_default.safetensors")
    assert renderer_module.default_checkpoint() == BUILTIN_TINY
    _save_tiny(tmp_path / "next3d_default.safetensors", 3)
    assert renderer_module.default_checkpoint() == str(tmp_path / "next3d_default.safetensors")
