"""`train --d-expression`: D is conditioned on each image's expression and jaw as well as its camera, so a jaw
that opens without the mouth opening is something D can tell apart from the data."""

import json
import shutil

import pytest
import torch
from click.testing import CliRunner

from next3d.cli import main
from next3d.head import HeadParams, load_default_head
from next3d.networks.discriminator import DiscriminatorConfig, DualDiscriminator
from next3d.train import train
from next3d.train.d_condition import CAMERA_LABEL_DIM, DiscriminatorCondition
from next3d.train.snapshot import load_latest_snapshot
from tests.train_support import micro_generator, run_options, train_config


pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_label_is_the_camera_followed_by_expression_and_jaw():
    head = load_default_head()
    params = HeadParams.neutral(head, 2)
    params.expression[:, 3] = torch.tensor([0.2, 0.7])
    params.jaw[:, 0] = torch.tensor([0.05, 0.3])
    params.shape[:, 0] = 1.5  # identity, eyes, neck, pose: not part of the label
    params.eyes[:, 1] = 0.2
    camera = torch.randn(2, CAMERA_LABEL_DIM)
    condition = DiscriminatorCondition(head, with_expression=True)
    label = condition(camera, params.to_vector())
    assert condition.dim == CAMERA_LABEL_DIM + head.num_expression + 3 == label.shape[1]
    assert torch.equal(label[:, :CAMERA_LABEL_DIM], camera)
    assert torch.equal(label[:, CAMERA_LABEL_DIM:CAMERA_LABEL_DIM + head.num_expression], params.expression)
    assert torch.equal(label[:, -3:], params.jaw)
    plain = DiscriminatorCondition(head, with_expression=False)
    assert plain.dim == CAMERA_LABEL_DIM and plain(camera, params.to_vector()) is camera


def test_a_run_trains_a_d_that_sees_the_jaw_and_resumes(data, tmp_path):
    head = load_default_head()
    first = train(train_config(data, d_expression=True), run_options(tmp_path, 2))
    snapshot = load_latest_snapshot(first.run_dir)
    config = snapshot.meta["discriminator_config"]
    assert config["c_dim"] == CAMERA_LABEL_DIM + head.num_expression + 3
    assert json.loads((first.run_dir / "config.json").read_text())["train"]["d_expression"] is True

    D = DualDiscriminator(DiscriminatorConfig(**config)).eval()
    D.load_state_dict(snapshot.module_state("D"))
    torch.manual_seed(0)
    image, raw = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    label = torch.randn(1, config["c_dim"]).repeat(4, 1)
    opened = label.clone()
    opened[:, -3] += 0.3  # jaw open by 0.3 rad more
    with torch.no_grad():
        assert not torch.allclose(D(image, raw, label), D(image, raw, opened))

    resumed = train(None, run_options(tmp_path, 3, resume="auto"))
    assert resumed.state.step == 3


def test_a_dataset_without_head_parameters_is_refused(data, tmp_path):
    plain = tmp_path / "no-head"
    shutil.copytree(data, plain)
    doc = json.loads((plain / "dataset.json").read_text())
    doc.pop("head")
    (plain / "dataset.json").write_text(json.dumps(doc))
    sizes = tmp_path / "micro.json"
    sizes.write_text(json.dumps(micro_generator().to_dict()))
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["train", "--data", str(plain), "--out", str(out), "--generator-config",
                                       str(sizes), "--d-expression"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: ") and "no-head" in last and "--d-expression needs head parameters" in last, last
    assert not out.exists() or not any(out.iterdir())
