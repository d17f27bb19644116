"""A short CPU training run learns, and leaves a run directory the rest of Next3D Studio can use."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from next3d.data import HeadDataset
from next3d.head import load_default_head
from next3d.io.checkpoint import load_checkpoint
from next3d.io.generator_file import load_generator
from next3d.networks.discriminator import DualDiscriminator
from next3d.networks.generator import Next3DGenerator, RenderOptions
from next3d.render import camera
from next3d.train import MetricsConfig, train
from next3d.train.data import condition_pool
from next3d.utils.jsonl import read_events
from next3d.train.metrics import feature_statistics, frechet_distance
from next3d.train.phases import head_state
from next3d.train.precision import apply_precision
from tests.train_support import micro_generator, run_options, train_config

STEPS = 80


pytestmark = pytest.mark.usefixtures("one_thread")


class PooledColors(torch.nn.Module):
    """Stand-in feature extractor for the metric hook: 4x4 average colours of uint8 images."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(images.float() / 255, 4).flatten(1)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    extractor = tmp / "colors.pt"
    with pytest.warns(DeprecationWarning):
        torch.jit.script(PooledColors()).save(str(extractor))
    metrics = MetricsConfig(extractor=str(extractor), num_samples=8, kid_subsets=5, kid_subset_size=8, batch=8)
    return train(train_config(data), run_options(tmp / "runs", STEPS, metrics=metrics))


def sample(G, pool, n=64):
    """Fixed latents and dataset (camera, head) pairs -> images and raw images of G (noise off)."""
    g = torch.Generator().manual_seed(999)
    z = torch.randn(n, G.z_dim, generator=g)
    index = torch.randint(len(pool), (n,), generator=g)
    c, heads = pool.labels[index], pool.heads[index]
    with torch.no_grad():
        out = G.synthesis(G.mapping(z, c), c, head_state(G, heads, n, "cpu"), RenderOptions(noise_mode="const"))
    return out.image, out.image_raw, c


def pixel_fid(a, b):
    """Fréchet distance of 2x2-pooled colour statistics (12 numbers per image)."""
    pool = lambda x: F.adaptive_avg_pool2d(x, 2).flatten(1).double().numpy()
    return frechet_distance(*feature_statistics(pool(a)), *feature_statistics(pool(b)))


def test_training_moves_the_generator_toward_the_data(data, trained):
    """Judged two ways on held-fixed samples (64 latents with dataset cameras and head states):

    1. Colour statistics: the Fréchet distance between 2x2-pooled colours of G_ema's images and of the real
       images must at least halve. Over seeds 0-5 this run cut it 2.4-80x (seed 2's untrained generator
       happens to start close), so a broken G loss (sign, missing gradient) or an EMA that never moves fails.
    2. The trained discriminator: it scores the real images above the untrained generator's images (it learned
       to tell data from the starting point), and the trained G_ema's images sit closer to the reals in its
       eyes than the untrained ones, i.e. training lowered D's real/fake gap (seeds 0-5: by 0.3-3.5).
    Training on the CPU is deterministic, so this exact run gives the same numbers every time.
    """
    config = train_config(data)
    dataset = HeadDataset(data)
    pool = condition_pool(dataset, torch.device("cpu"))
    reals = torch.stack([dataset[i].image for i in range(len(dataset))]).float() / 127.5 - 1
    torch.manual_seed(config.seed)  # the run's initial weights
    G_init = Next3DGenerator(config.generator, load_default_head()).eval()
    G_final = load_generator(trained.run_dir)
    init_images, init_raw, init_c = sample(G_init, pool)
    final_images, final_raw, final_c = sample(G_final, pool)

    before, after = pixel_fid(init_images, reals), pixel_fid(final_images, reals)
    assert after < 0.5 * before, (before, after)

    D = DualDiscriminator(config.generator.discriminator()).eval()
    D.load_state_dict(load_checkpoint(trained.run_dir).module_state("D"))
    D.disc_c_noise = 0.0  # judge without the training-time label noise
    with torch.no_grad():
        real_raw = F.interpolate(reals, size=16, mode="bilinear", antialias=True, align_corners=False)
        real_score = D(reals, real_raw, dataset.labels).mean()
        gap_init = real_score - D(init_images, init_raw, init_c).mean()
        gap_final = real_score - D(final_images, final_raw, final_c).mean()
    assert gap_init > 0, float(gap_init)
    assert gap_final < gap_init, (float(gap_init), float(gap_final))


def test_run_directory_is_usable(trained):
    run = trained.run_dir
    assert trained.finished and trained.state.step == STEPS and trained.state.nimg == STEPS * 4
    # The visualizer's loader opens the run directory and renders.
    G = load_generator(run)
    c = camera.make_label(camera.orbit_pose(torch.zeros(1), torch.zeros(1)))
    with torch.no_grad():
        image = G(torch.randn(1, G.z_dim), c, head_state(G, None, 1, "cpu")).image
    assert image.shape == (1, 3, 32, 32) and torch.isfinite(image).all()
    # The snapshot holds everything needed to continue.
    ckpt = load_checkpoint(run)
    assert {"G", "G_ema", "D", "G_opt", "D_opt"} <= set(ckpt.tensors)
    assert ckpt.meta["kind"] == "snapshot" and ckpt.meta["training"]["step"] == STEPS
    assert ckpt.meta["head"]["hash"] == load_default_head().content_hash()
    # Grid: 1 seed row + 1 expression row, 2 views each.
    grid = np.asarray(Image.open(next(run.glob("grid-*.png"))))
    assert grid.shape == (2 * 32, 2 * 32, 3) and grid.std() > 0
    assert json.loads((run / "config.json").read_text())["train"]["batch"] == 4
    assert not list(run.glob(".*tmp*")), "no temporary files left behind"


def test_log_is_plottable_jsonl(trained):
    events = read_events(trained.run_dir / "log.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert {"tick", "grid", "snapshot", "metrics"} <= set(kinds)
    assert all(isinstance(e["t"], float) for e in events)
    tick = next(e for e in events if e["event"] == "tick")
    for key in ("kimg", "step", "sec_per_kimg", "img_per_sec", "loss_G", "loss_D", "loss_density", "r1_penalty",
                "scores_real", "scores_fake"):
        assert np.isfinite(tick[key]), key
    metrics = next(e for e in events if e["event"] == "metrics")
    assert np.isfinite(metrics["fid"]) and metrics["fid"] >= 0 and np.isfinite(metrics["kid"])
    assert metrics["num_samples"] == 8
    # The real features were computed from the dataset once and cached beside the snapshot.
    assert (trained.run_dir / "metrics-real-features.npz").exists()


def test_bf16_blocks_train_on_the_cpu(data, tmp_path):
    generator = micro_generator(sr_num_fp16_res=1, d_num_fp16_res=1)
    result = train(train_config(data, generator=generator, precision="bf16"), run_options(tmp_path, 2))
    tick = [e for e in read_events(result.run_dir / "log.jsonl") if e["event"] == "tick"][-1]
    assert np.isfinite(tick["loss_G"]) and np.isfinite(tick["loss_D"])
    G = load_generator(result.run_dir)
    assert apply_precision(G, "bf16") > 0  # the config has reduced-precision blocks; they now compute in bf16
    c = camera.make_label(camera.orbit_pose(torch.zeros(1), torch.zeros(1)))
    with torch.no_grad():
        assert torch.isfinite(G(torch.randn(1, G.z_dim), c, head_state(G, None, 1, "cpu")).image).all()


def test_max_minutes_stops_cleanly_with_a_snapshot(data, tmp_path):
    result = train(train_config(data), run_options(tmp_path, 50, max_minutes=1e-5))
    assert not result.finished and result.state.step == 1
    events = read_events(result.run_dir / "log.jsonl")
    assert [e["event"] for e in events][-3:] == ["grid", "snapshot", "stopped"]
    assert load_checkpoint(result.run_dir).meta["training"]["step"] == 1
