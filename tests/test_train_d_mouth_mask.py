"""`train --d-mouth-mask`: D also sees where each image's mouth is open (the inner lip contour, projected and
filled), so a closed mouth under an open jaw, or teeth behind closed lips, is something it can tell from data."""

import json

import pytest
import torch

from next3d.data.xflip import HeadMirror, mirror_labels
from next3d.head import HeadParams, load_default_head
from next3d.invert.d_features import load_discriminator_features
from next3d.networks.discriminator import DiscriminatorConfig, DualDiscriminator
from next3d.render import camera
from next3d.train import train
from next3d.train.mouth_mask import MouthMask
from next3d.train.snapshot import load_latest_snapshot
from tests.train_support import run_options, train_config

pytestmark = pytest.mark.usefixtures("one_thread")

RES = 64


def head_vectors(head, jaws, yaw_jaw=0.0):
    params = HeadParams.neutral(head, len(jaws))
    params.jaw[:, 0] = torch.tensor(jaws)
    params.jaw[:, 1] = yaw_jaw
    return params.to_vector()


def labels(yaws_deg):
    return torch.cat([camera.make_label(camera.orbit_pose(float(torch.tensor(y).deg2rad()), 0.0))
                      for y in yaws_deg])


def opening(mask):
    return (mask > 0).float().mean(dim=(1, 2, 3))  # share of the picture inside the mouth opening


def test_the_mask_opens_with_the_jaw_below_the_nose_and_centred():
    head = load_default_head()
    mask = MouthMask(head, RES)(labels([0, 0, 0]), head_vectors(head, [0.0, 0.15, 0.3]))
    assert mask.shape == (3, 1, RES, RES) and mask.min() >= -1 and mask.max() <= 1
    share = opening(mask)
    assert share[0] < 0.001, "a closed jaw leaves (almost) no opening"
    assert 0.002 < share[1] < share[2] < 0.05, share  # opens further with the jaw, and stays a mouth-sized spot
    rows, cols = torch.nonzero(mask[2, 0] > 0, as_tuple=True)
    assert rows.float().mean() > RES * 0.5, "the opening is in the lower half of a frontal face"
    assert abs(cols.float().mean() - (RES - 1) / 2) < RES * 0.05, "and centred left-right"


def test_a_mirrored_image_gets_the_mirrored_mask():
    """x-flipped training images carry mirrored head vectors and labels; their mask must be the flipped mask."""
    head = load_default_head()
    vectors = head_vectors(head, [0.25], yaw_jaw=0.1)  # a jaw shifted sideways: not symmetric
    label = labels([20])
    make = MouthMask(head, RES)
    mask = make(label, vectors)
    mirrored = make(mirror_labels(label), HeadMirror(head).vectors(vectors))
    assert opening(mask) > 0.002
    differ = (mirrored - mask.flip(-1)).abs()
    assert differ.mean() < 0.01 and differ.max() <= 1.0, differ.mean()
    assert (mask - mask.flip(-1)).abs().mean() > 2 * differ.mean(), "the test case is really asymmetric"


def test_vertices_give_the_same_mask_as_the_parameters_they_come_from():
    head = load_default_head()
    vectors = head_vectors(head, [0.1, 0.3])
    vertices = head(HeadParams.from_vector(vectors, head)).vertices
    make = MouthMask(head, RES)
    assert torch.allclose(make(labels([10, -30]), vectors), make(labels([10, -30]), vertices), atol=1e-6)


def test_d_with_a_condition_channel_reads_it_and_requires_it():
    config = DiscriminatorConfig(img_resolution=32, channel_base=256, channel_max=16, mbstd_group_size=2,
                                 num_fp16_res=0, conv_clamp=None, mapping_num_layers=2, cond_channels=1)
    torch.manual_seed(0)
    D = DualDiscriminator(config).eval()
    image, raw, c = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1, torch.randn(2, 25)
    closed, opened = -torch.ones(2, 1, 32, 32), -torch.ones(2, 1, 32, 32)
    opened[:, :, 20:24, 12:20] = 1
    with torch.no_grad():
        assert not torch.allclose(D(image, raw, c, cond=closed), D(image, raw, c, cond=opened))
    with pytest.raises(ValueError, match="1 condition-image channels, got 0"):
        D(image, raw, c)


def test_a_run_trains_a_d_that_sees_the_mouth_and_resumes(data, tmp_path):
    first = train(train_config(data, d_mouth_mask=True), run_options(tmp_path, 2))
    snapshot = load_latest_snapshot(first.run_dir)
    config = snapshot.meta["discriminator_config"]
    assert config["cond_channels"] == 1 and config["c_dim"] == 25
    assert json.loads((first.run_dir / "config.json").read_text())["train"]["d_mouth_mask"] is True
    assert all(torch.isfinite(t).all() for t in snapshot.module_state("D").values())

    resumed = train(None, run_options(tmp_path, 3, resume="auto"))
    assert resumed.state.step == 3
    # the snapshot's D still serves as the inversion's feature loss
    features = load_discriminator_features(load_latest_snapshot(first.run_dir), torch.device("cpu"))
    render = torch.rand(1, 3, 32, 32) * 2 - 1
    assert features.distance(render, render, torch.ones(1, 1, 32, 32)).item() == pytest.approx(0, abs=1e-6)
    assert features.distance(render, -render, torch.ones(1, 1, 32, 32)).item() > 0
