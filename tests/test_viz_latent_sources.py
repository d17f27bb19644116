"""Where non-seed avatars come from: content-addressed W+ files (diffusion samples, inversions), in-memory
generators (a tuned inversion result) that reach a worker process, and whether a prior fits the loaded model."""

import functools
import pickle
import time

import numpy as np
import pytest
import torch

from next3d.capture.latent_bank import latent_source, store_wplus
from next3d.capture.memory_models import pack_generator, unpack_generator
from next3d.capture.render_args import BUILTIN_TINY, RenderArgs
from next3d.capture.renderer import ModelCache, Renderer, load_model
from next3d.diffusion.denoiser import DenoiserConfig
from next3d.diffusion.prior import PriorConfig
from next3d.errors import BadInputError
from viz.async_renderer import AsyncRenderer
from viz.prior_match import GeneratorIdentity, prior_fit


@pytest.fixture(scope="module")
def tiny():
    return load_model(BUILTIN_TINY, torch.device("cpu")).generator


def test_stored_latents_are_named_by_their_values(tmp_path):
    w = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    path = store_wplus(tmp_path, w, "diffusion sample: prior p, seed 3")
    assert store_wplus(tmp_path, w.copy(), "another label") == path  # equal values: one file, first label kept
    other = w.copy()
    other[0, 0] += 1e-3
    assert store_wplus(tmp_path, other, "x") != path
    np.testing.assert_array_equal(np.load(path)["w"], w)
    assert latent_source(path) == "diffusion sample: prior p, seed 3"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, store_wplus(tmp_path, other, "x").name])
    with pytest.raises(BadInputError, match="NaN"):
        store_wplus(tmp_path, np.full((6, 8), np.nan), "bad")
    np.savez(tmp_path / "plain.npz", w=w)
    assert latent_source(tmp_path / "plain.npz") == "" and latent_source(tmp_path / "missing.npz") == ""


def test_renderer_shows_a_stored_latent_exactly(tmp_path, tiny):
    renderer = Renderer(device="cpu")
    seed_args = RenderArgs(latent_x=3.0, neural_res=16)
    ws = renderer.latent_of(seed_args)
    path = store_wplus(tmp_path, ws[0].numpy(), "inversion: test")
    from_file = RenderArgs(latent_file=str(path), neural_res=16, psi=0.3)  # psi does not touch a stored W+
    np.testing.assert_array_equal(renderer.render_image(from_file), renderer.render_image(seed_args))


def test_an_in_memory_generator_renders_like_the_original_in_a_worker_process(tiny):
    model = pack_generator(tiny, "tuned-test", "test copy")
    rebuilt = unpack_generator(model)
    assert all(torch.equal(a, b) for a, b in zip(tiny.state_dict().values(), rebuilt.state_dict().values()))
    cache = ModelCache()
    args = RenderArgs(checkpoint=model.spec, neural_res=16, yaw=0.2)
    with pytest.raises(BadInputError, match="in-memory model that is gone"):
        cache.get(model.spec, torch.device("cpu"))
    async_renderer = AsyncRenderer(functools.partial(Renderer, "cpu", cache), use_process=True)
    try:
        cache.register(model)  # the process started before the model existed: it is sent the weights
        async_renderer.add_model(model)
        async_renderer.submit(args)
        deadline, result = time.monotonic() + 120, None
        while result is None and time.monotonic() < deadline:
            result = async_renderer.poll()
            time.sleep(0.01)
    finally:
        async_renderer.close()
    assert result is not None and result.error == "" and result.model.description == "test copy"
    reference = Renderer(device="cpu").render_image(args.with_(checkpoint=BUILTIN_TINY))
    np.testing.assert_array_equal(result.image, reference)
    copied = pickle.loads(pickle.dumps(cache))  # what a newly spawned worker gets
    assert copied.memory_model(model.spec) == model
    cache.register(pack_generator(tiny, "tuned-next", "newer"))
    assert cache.memory_model(model.spec) is None  # one in-memory model at a time


def _prior_cfg(shape=(20, 512), source=None):
    return PriorConfig("wplus", "minmax", DenoiserConfig(*shape, width=32, depth=1, heads=2), source=source or {})


def test_prior_fit_compares_hashes_when_it_can_and_says_when_it_cannot():
    made_for = {"generator": {"checkpoint": "/runs/G.safetensors", "sha256": "ab" * 32}}
    same = prior_fit("p", _prior_cfg(source=made_for), (20, 512), GeneratorIdentity("/x/G.safetensors", "ab" * 32))
    assert same.usable and "matches" in same.message
    other = prior_fit("p", _prior_cfg(source=made_for), (20, 512), GeneratorIdentity("/x/H.safetensors", "cd" * 32))
    assert other.usable and "another checkpoint" in other.message and "cdcdcdcdcdcd" in other.message
    unknown = prior_fit("p", _prior_cfg(), (20, 512), GeneratorIdentity("/x/G.safetensors", "ab" * 32))
    assert unknown.usable and "matched by latent shape only (wplus 20 x 512)" in unknown.message
    memory = prior_fit("p", _prior_cfg(source=made_for), (20, 512), GeneratorIdentity("memory:tuned-1"))
    assert memory.usable and "memory:tuned-1 is not a file" in memory.message
    wrong = prior_fit("p.safetensors", _prior_cfg(shape=(24, 512), source=made_for), (20, 512),
                      GeneratorIdentity("/x/G.safetensors", "ab" * 32))
    assert not wrong.usable
    assert "p.safetensors does not fit G.safetensors" in wrong.message and "24 x 512" in wrong.message \
        and "20 x 512" in wrong.message
