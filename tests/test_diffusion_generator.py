"""The prior's commands with the real (tiny, random-weight) generator: save-samples -> train-diffusion ->
sample-diffusion (with image guidance) -> gen-from-latents; style-space latents; multi-rank and resumed stores."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from next3d.capture.latents import z_from_seed
from next3d.cli import main
from next3d.data.pose_sampling import PoseDistribution, camera_labels
from next3d.diffusion.generator_source import GeneratorSource
from next3d.diffusion.guidance import ImageGuidance, guidance_loss
from next3d.diffusion.image_inputs import load_rgb
from next3d.diffusion.latent_codec import LatentCodec
from next3d.diffusion.latent_stats import load_stats
from next3d.diffusion.latent_store import LatentStore
from next3d.head import HeadParams

TINY = ["--preset", "tiny", "--random-init", "--device", "cpu"]
SAVE = ["save-samples", *TINY, "--n", "4", "--batch", "2", "--shard-size", "2", "--latent", "wplus,style",
        "--head", "random", "--image-res", "32"]


def run(*argv: str):
    result = CliRunner().invoke(main, [str(a) for a in argv])
    assert result.exit_code == 0, result.output
    return result


def store_files(path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and "logs" not in p.parts}


@pytest.fixture(scope="module")
def generator():
    return GeneratorSource(preset="tiny").load("cpu")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("samples") / "store"
    run(*SAVE, "--out", path)
    return path


@pytest.fixture(scope="module")
def prior_run(store):
    run_dir = store.parent / "run"
    run("train-diffusion", "--data", store, "--out", run_dir, "--steps", 10, "--batch", 4, "--width", 32, "--depth", 1,
        "--heads", 2, "--snapshot-every", 10, "--device", "cpu")
    return run_dir


def frontal(batch: int = 1) -> torch.Tensor:
    return camera_labels(torch.zeros(batch), torch.zeros(batch), PoseDistribution())


def test_style_latents_render_exactly_like_the_wplus_they_came_from(generator):
    G = generator
    ws = G.mapping(torch.randn(2, G.z_dim), frontal(2), truncation_psi=0.7)
    style = LatentCodec(G, "style")
    assert style.shape == (len(style.layout.tokens), max(d for *_, d in style.layout.tokens))
    head = HeadParams.neutral(G.head, 2)
    from_ws = LatentCodec(G, "wplus").render(ws, frontal(2), head).image
    from_styles = style.render(style.from_ws(ws), frontal(2), head).image
    torch.testing.assert_close(from_styles, from_ws, rtol=0, atol=1e-6)


def test_store_records_what_the_generator_makes_from_each_seed(store, generator):
    G = generator
    data = LatentStore(store)
    assert set(data.field_names) == {"wplus", "style", "seed", "camera", "head", "image"}
    np.testing.assert_array_equal(data["seed"][:], [0, 1, 2, 3])
    z = torch.from_numpy(np.stack([z_from_seed(s, G.z_dim) for s in (2, 3)]))
    ws = G.mapping(z, frontal(2), truncation_psi=0.7)
    np.testing.assert_allclose(data["wplus"][2:4], ws.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(data["style"][2:4], LatentCodec(G, "style").from_ws(ws).numpy(), rtol=0, atol=1e-6)
    cameras = torch.from_numpy(data["camera"][2:4])
    assert not torch.allclose(cameras[0], cameras[1])  # random FFHQ-like cameras
    head = HeadParams.from_vector(torch.from_numpy(data["head"][2:4]), G.head)
    image = LatentCodec(G, "wplus").render(ws, cameras, head).image
    image = torch.nn.functional.interpolate(image, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
    stored = torch.from_numpy(data["image"][2:4]).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert (image.clamp(-1, 1) - stored).abs().max() <= 1.01 / 127.5
    stats = load_stats(store, "style")
    np.testing.assert_array_equal(stats.max, data["style"][:].astype(np.float64).max(0))


def test_two_ranks_and_a_resumed_run_write_the_single_process_store(store, tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank in ("1", "0"):
        monkeypatch.setenv("RANK", rank)
        run(*SAVE, "--out", tmp_path / "ranks")
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("RANK")
    assert store_files(tmp_path / "ranks") == store_files(store)

    shutil.copytree(store, tmp_path / "resumed")
    shutil.rmtree(tmp_path / "resumed" / "shards" / "0000000002-0000000004")
    (tmp_path / "resumed" / "stats.npz").unlink()
    run(*SAVE, "--out", tmp_path / "resumed")
    assert store_files(tmp_path / "resumed") == store_files(store)


def test_guidance_through_the_generator_lowers_the_image_loss(store, prior_run, generator, tmp_path):
    target = tmp_path / "target.png"
    Image.fromarray(LatentStore(store)["image"][1]).save(target)
    common = ["sample-diffusion", "--prior", prior_run, *TINY, "--n", 2, "--steps", 3, "--seed", 5]
    run(*common, "--out", tmp_path / "plain")
    run(*common, "--out", tmp_path / "guided", "--target", target, "--guidance-res", 32, "--guidance-scale", 3)
    guidance = ImageGuidance(load_rgb(target, 32), resolution=32)
    render = LatentCodec(generator, "wplus").render_fn(frontal(), HeadParams.neutral(generator.head))
    losses = {}
    for name in ("plain", "guided"):
        with np.load(tmp_path / name / "latents.npz") as data:
            assert str(data["kind"]) == "wplus" and list(data["seeds"]) == [5, 6]
            with torch.no_grad():
                losses[name] = guidance_loss(render(torch.from_numpy(data["latents"])), guidance)
    assert (losses["guided"] < 0.8 * losses["plain"]).all(), losses
    summary = json.loads((tmp_path / "guided" / "sampling.json").read_text())
    np.testing.assert_allclose(summary["guidance_loss"], losses["guided"].numpy(), rtol=1e-4)
    for seed in (5, 6):  # the visualizer opens sample-<seed>.npz ('w') and the PNG shows that latent
        assert (tmp_path / "guided" / f"sample-{seed:06d}.png").is_file()
        with np.load(tmp_path / "guided" / f"sample-{seed:06d}.npz") as data:
            assert data["w"].shape == (generator.num_ws, generator.w_dim)


def test_gen_from_latents_renders_every_camera_and_expression(store, generator, tmp_path):
    expressions = tmp_path / "expr.npz"
    np.savez(expressions, jaw=np.array([[0.0, 0, 0], [0.3, 0, 0]], np.float32))
    run("gen-from-latents", "--latents", store, "--kind", "style", "--indices", "1", *TINY, "--out", tmp_path / "out",
        "--yaw", "0,0.4", "--expression-file", expressions, "--grid")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["grid.png"] + [f"seed000001-c{c:02d}-e{e:02d}.png" for c in (0, 1) for e in (0, 1)]
    G = generator
    head = HeadParams.neutral(G.head)
    head.jaw[0, 0] = 0.3
    latents = torch.from_numpy(LatentStore(store)["style"][1:2])
    camera = camera_labels(torch.tensor([0.4]), torch.tensor([0.0]), PoseDistribution())
    with torch.no_grad():
        expected = ((LatentCodec(G, "style").render(latents, camera, head).image[0].clamp(-1, 1) + 1) * 127.5).round()
    written = np.asarray(Image.open(tmp_path / "out" / "seed000001-c01-e01.png"))
    assert np.abs(written.astype(int) - expected.permute(1, 2, 0).numpy().astype(int)).max() <= 1
    assert Image.open(tmp_path / "out" / "grid.png").size == (4 * 64, 64)


@pytest.mark.parametrize("argv, message", [
    (["save-samples", *TINY, "--n", "2", "--latent", "zspace"], "--latent zspace: choose from wplus, style"),
    (["save-samples", "--n", "2"], "no generator: give --ckpt"),
    (["sample-diffusion", "--prior", "{store}/index.json"], "not a readable safetensors checkpoint"),
    (["gen-from-latents", "--latents", "{bad}", *TINY], "holds pickled Python objects"),
    (["train-diffusion", "--data", "{store}", "--latent", "image"], "holds latent fields wplus, style"),
])
def test_bad_input_is_one_line_and_writes_nothing(argv, message, store, tmp_path):
    bad = tmp_path / "objects.npy"
    np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    out = tmp_path / "out"
    argv = [a.replace("{store}", str(store)).replace("{bad}", str(bad)) for a in argv] + ["--out", str(out)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert not out.exists()
