"""Seeds, the fractional seed walk and turntable paths: what the latent and camera widgets and videos use."""

import math

import numpy as np
import pytest

from next3d.capture.latents import SEED_STEP_Y, parse_seeds, seed_at, walk_seeds, z_from_seed
from next3d.capture.orbit import frames_for, turntable_angles, turntable_path
from next3d.errors import BadInputError


def test_integer_position_is_exactly_one_seed():
    assert walk_seeds(7.0, 0.0) == ((7, 1.0),)
    assert walk_seeds(3.0, 2.0) == ((3 + 2 * SEED_STEP_Y, 1.0),)


def test_fractional_position_blends_the_four_neighbours_bilinearly():
    seeds = dict(walk_seeds(1.25, 0.5))
    assert seeds == pytest.approx({1: 0.375, 2: 0.125, 1 + SEED_STEP_Y: 0.375, 2 + SEED_STEP_Y: 0.125})
    assert sum(seeds.values()) == pytest.approx(1.0)
    assert seed_at(1.25, 0.5) == 1


def test_z_matches_eg3d_scripts_and_is_deterministic():
    expected = np.random.RandomState(42).randn(1, 512)[0]
    assert np.allclose(z_from_seed(42, 512), expected, atol=1e-6)
    assert not np.allclose(z_from_seed(42, 512), z_from_seed(43, 512))


def test_seed_lists_parse_and_bad_ones_are_named():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    for bad in ("", "a", "3-1", "-2"):
        with pytest.raises(BadInputError, match="--seeds"):
            parse_seeds(bad)


def test_turntable_is_a_closed_loop_with_the_requested_amplitudes():
    path = turntable_path(40, 0.6, 0.2, yaw0=0.1, pitch0=-0.05)
    yaws, pitches = np.array(path).T
    assert len(path) == 40
    assert yaws.max() - 0.1 == pytest.approx(0.6, abs=1e-9) and yaws.min() - 0.1 == pytest.approx(-0.6, abs=1e-9)
    assert pitches.max() + 0.05 == pytest.approx(0.2, abs=1e-9)
    # the frame after the last one is the first again: the loop is seamless, no duplicated frame
    assert turntable_angles(1.0, 0.6, 0.2) == pytest.approx(turntable_angles(0.0, 0.6, 0.2))
    assert path[-1] != pytest.approx(path[0])


def test_frame_count_from_seconds_or_frames():
    assert frames_for(2.0, 30, None) == 60
    assert frames_for(None, 30, 7) == 7
    for seconds, fps, frames in ((None, 30, None), (1.0, 0, None), (None, 30, 0), (-1.0, 30, None),
                                 (None, math.nan, 5)):
        with pytest.raises(BadInputError):
            frames_for(seconds, fps, frames)
