"""The shipped generator against the default-model bar, on the CPU: a head for at least 8 of 10 seeds at -45, 0
and +45 degrees yaw; identity kept while the camera turns (no flicker between neighbouring views); opening the jaw
changes mainly the mouth (the change is concentrated in the box around the projected lip landmarks) and opens it
(inside the projected lip opening, lips give way to teeth and tongue)."""

import numpy as np
import pytest
import torch
from head_silhouette import background_colour, silhouette

from next3d.capture.images import signed_to_uint8
from next3d.capture.renderer import DEFAULT_CHECKPOINT
from next3d.head import HeadParams
from next3d.io.generator_file import load_generator
from next3d.networks.staged import StagedGenerator
from next3d.render import camera
from tools.default_model_sheets import mouth_box_share, mouth_opening_change, seed_latent

pytestmark = pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="the shipped model is not in this checkout")
SEEDS = range(10)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    G = load_generator(DEFAULT_CHECKPOINT)
    return G, StagedGenerator(G)


def label(yaw_deg: float) -> torch.Tensor:
    return camera.make_label(camera.orbit_pose(float(np.radians(yaw_deg)), 0.0))


@torch.no_grad()
def picture(model, seed: int, yaw_deg: float) -> np.ndarray:
    G, staged = model
    image = staged.render(seed_latent(G, seed), label(yaw_deg), HeadParams.neutral(G.head)).image[0]
    return signed_to_uint8(image).astype(float)  # (H, W, 3) in 0..255


def looks_like_a_head(pixels: np.ndarray, frontal: bool) -> bool:
    """A foreground blob over the image centre, between a third and all but a sliver of the image wide."""
    shape = silhouette(pixels, background_colour(pixels, both_sides=frontal))
    return shape["centre"] > 0.8 and 0.3 < shape["width"] < 0.95


def test_at_least_8_of_10_seeds_show_a_head_from_minus_45_to_45_degrees(model):
    heads = [all(looks_like_a_head(picture(model, seed, yaw), yaw == 0) for yaw in (-45, 0, 45)) for seed in SEEDS]
    assert sum(heads) >= 8, f"head at all three yaws for seeds {[s for s, h in zip(SEEDS, heads) if h]}"


def test_turning_the_camera_keeps_the_identity_without_flicker(model):
    """Frames 5 degrees apart from -45 to +45: every step changes the picture by a similar amount (a flicker would
    be one step far above the others), and the face keeps its colours (the centre of the picture, which the face
    covers at every yaw, stays near its frontal colour). Measured: largest step 1.08x the median, drift 1.4-2.9."""
    for seed in (0, 1):
        frames = [picture(model, seed, yaw) for yaw in range(-45, 46, 5)]
        steps = np.array([np.abs(a - b).mean() for a, b in zip(frames, frames[1:])])
        assert steps.max() < 1.6 * np.median(steps), f"seed {seed}: a jump between neighbouring views {steps}"
        h, w = frames[0].shape[:2]
        centre = [f[int(0.4 * h):int(0.6 * h), int(0.4 * w):int(0.6 * w)].reshape(-1, 3).mean(0) for f in frames]
        drift = np.abs(np.array(centre) - centre[9]).max()  # frames[9]: yaw 0
        assert drift < 15.0, f"seed {seed}: the face colour drifts by {drift:.1f} (0..255) while the camera turns"


def test_opening_the_jaw_changes_mainly_the_mouth(model):
    G, _ = model
    shares = [mouth_box_share(G, seed_latent(G, seed), label(0)) for seed in SEEDS]
    inside = np.array([share for share, _ in shares])
    box_area = np.array([area for _, area in shares])
    # at least 3x as much change per pixel inside the mouth box as the image average (measured: 4.5-5.5x)
    assert (inside / box_area).mean() > 3.0, list(zip(inside.round(3), box_area.round(3)))


def test_opening_the_jaw_opens_the_mouth(model):
    """Inside the mouth opening that jaw 0.3 rad projects to, the picture must change as lips give way to teeth and
    tongue. Measured (mean |change|, 0..255): this model 32-44 per seed; the previous shipped model, whose lips
    stayed closed and moved down, 16-21; a 105-kimg run without the mouth-mask D, 6.5-11."""
    G, _ = model
    changes = np.array([mouth_opening_change(G, seed_latent(G, seed), label(0)) for seed in SEEDS])
    assert (changes > 25).sum() >= 8, changes.round(1)
