"""`python -m next3d train` refuses bad input with one line naming what and where, exit code 1, and writes nothing."""

import json
import shutil

import pytest
import torch
from click.testing import CliRunner

from next3d.cli import main
from next3d.head import load_default_head
from next3d.train.data import open_training_data
from tests.train_support import synth_data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synth_data(tmp_path_factory)


def run_cli(*args):
    return CliRunner().invoke(main, ["train", *map(str, args)], catch_exceptions=False)


def assert_refused(result, *fragments, out=None):
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in last, last
    assert "Traceback" not in result.output
    if out is not None:
        assert not out.exists() or not any(out.iterdir()), "a refused run must not create anything"


def edited_copy(data, tmp_path, edit):
    copy = tmp_path / "edited"
    shutil.copytree(data, copy)
    doc = json.loads((copy / "dataset.json").read_text())
    edit(doc)
    (copy / "dataset.json").write_text(json.dumps(doc))
    return copy


def test_missing_and_empty_datasets(tmp_path):
    out = tmp_path / "runs"
    assert_refused(run_cli("--data", tmp_path / "nope", "--out", out, "--preset", "tiny"), "nope: no such dataset",
                   out=out)
    (tmp_path / "empty").mkdir()
    assert_refused(run_cli("--data", tmp_path / "empty", "--out", out, "--preset", "tiny"),
                   "empty: no dataset.json", out=out)
    (tmp_path / "nolabels").mkdir()
    (tmp_path / "nolabels" / "dataset.json").write_text('{"labels": []}')
    assert_refused(run_cli("--data", tmp_path / "nolabels", "--out", out, "--preset", "tiny"), "nolabels",
                   "no usable entries", out=out)
    assert_refused(run_cli("--out", out), "--data is required for a new run", out=out)


def test_dataset_for_another_head_model_is_refused(data, tmp_path):
    def other_head(doc):
        doc["head"]["model"]["hash"] = "0" * 64

    out = tmp_path / "runs"
    result = run_cli("--data", edited_copy(data, tmp_path, other_head), "--out", out, "--preset", "tiny")
    assert_refused(result, "edited", "hash 000000000000", out=out)


def test_images_smaller_than_the_preset_are_refused_larger_are_resized(data, tmp_path):
    out = tmp_path / "runs"
    assert_refused(run_cli("--data", data, "--out", out, "--preset", "tiny"),
                   "images are 32x32 but the generator trains at 64x64", out=out)
    warnings = []
    dataset = open_training_data(str(data), load_default_head(), 16, False, warn=warnings.append)
    assert dataset[0].image.shape == (3, 16, 16) and dataset[0].image.dtype == torch.uint8
    assert len(warnings) == 1 and "resized to 16^2" in warnings[0]


@pytest.mark.parametrize("args, message", [
    (["--batch", "0"], "--batch must be a positive integer"),
    (["--batch", "6", "--gpus", "4"], "--batch 6 is not a multiple of --gpus 4"),
    (["--batch", "12", "--batch-gpu", "6"], "--batch-gpu 6 must be a multiple of the discriminator's minibatch-std"),
    (["--batch", "8", "--batch-gpu", "3"], "--batch 8 is not a multiple of --gpus 1 x --batch-gpu 3"),
    (["--gpus", "0"], "--gpus must be a positive integer"),
    (["--kimg", "0"], "--kimg must be > 0"),
    (["--gamma", "-1"], "--r1-gamma must be >= 0"),
    (["--max-minutes", "-5"], "--max-minutes must be > 0"),
    (["--d-warmup-kimg", "-1"], "--d-warmup-kimg must be >= 0"),
])
def test_bad_numbers_are_named(data, tmp_path, args, message):
    out = tmp_path / "runs"
    assert_refused(run_cli("--data", data, "--out", out, "--preset", "tiny", "--device", "cpu", *args), message,
                   out=out)


def test_resume_needs_a_snapshot(data, tmp_path):
    out = tmp_path / "runs"
    (out / "run").mkdir(parents=True)
    assert_refused(run_cli("--out", out, "--resume", out / "run"), "run: no snapshot-*.safetensors to resume from")
    assert_refused(run_cli("--out", out, "--resume", out / "elsewhere"), "no such run directory or snapshot file")
    assert_refused(run_cli("--data", data, "--out", out, "--run-name", "run", "--preset", "tiny"),
                   "already exists; continue it with --resume auto")


def test_metrics_files_are_checked_before_training(data, tmp_path):
    out = tmp_path / "runs"
    (tmp_path / "inception.pt").write_bytes(b"garbage")
    assert_refused(run_cli("--data", data, "--out", out, "--preset", "tiny", "--metrics-extractor",
                           tmp_path / "missing.pt"), "missing.pt: no such file", out=out)
    assert_refused(run_cli("--data", data, "--out", out, "--preset", "tiny", "--batch", "6", "--gpus", "2",
                           "--metrics-extractor", tmp_path / "inception.pt"),
                   "inception.pt: not a TorchScript file", out=out)


def test_processes_started_by_torchrun_get_the_same_options():
    from next3d.cli.train import command_line, train

    args = ["--data", "d", "--out", "o", "--preset", "small", "--batch", "8", "--gpus", "2", "--no-mirror",
            "--kimg", "2.5", "--metrics-extractor", "x.pt2", "--no-progress", "--resume", "auto"]
    ctx = train.make_context("train", list(args))
    again = command_line(ctx)
    assert again[0] == "train"
    assert train.make_context("train", again[1:]).params == ctx.params
