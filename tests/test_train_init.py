"""`train --init-generator FILE`: a new run starts G and G_ema from a generator file (fine-tuning a shipped model)."""

import json

import pytest
import torch
from click.testing import CliRunner

from next3d.cli import main
from next3d.head import load_default_head
from next3d.io.generator_file import load_generator, save_generator
from next3d.networks.generator import Next3DGenerator
from next3d.train import train
from next3d.train.snapshot import load_latest_snapshot
from tests.train_support import micro_generator, run_options, train_config


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def start_file(tmp_path_factory):
    """A micro generator with weights unlike any fresh run's (seed 123, every weight shifted), saved in fp16."""
    torch.manual_seed(123)
    G = Next3DGenerator(micro_generator(), load_default_head())
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.25)
    path = tmp_path_factory.mktemp("init") / "start.safetensors"
    save_generator(path, G, dtype=torch.float16)
    return path


def max_difference(a, b):
    """Largest weight difference (parameters only: the tracked w average moves with every step)."""
    pb = dict(b.named_parameters())
    return max((p.float() - pb[k].float()).abs().max().item() for k, p in a.named_parameters())


def test_a_new_run_starts_from_the_file_and_fresh_runs_do_not(data, tmp_path, start_file):
    start = load_generator(start_file)
    # lr 1e-9: one step moves nothing measurable, so G_ema after it shows where training started
    tuned = train(train_config(data, init_generator=str(start_file), lr_g=1e-9),
                  run_options(tmp_path / "tuned", 1))
    fresh = train(train_config(data, lr_g=1e-9), run_options(tmp_path / "fresh", 1))
    assert max_difference(load_generator(tuned.run_dir), start) < 1e-4
    assert max_difference(load_generator(fresh.run_dir), start) > 0.2


def test_sizes_come_from_the_file_and_mismatches_are_refused(data, tmp_path, start_file):
    out = tmp_path / "runs"
    # the micro sizes are in the file: without --preset the run takes them (the small preset would refuse 32^2 data)
    result = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(out), "--init-generator",
                                       str(start_file), "--kimg", "0.004", "--device", "cpu", "--workers", "0",
                                       "--batch", "4", "--no-progress", "--grid-seeds", "1", "--grid-views", "1",
                                       "--blur-fade-kimg", "20", "--run-name", "tuned"])
    assert result.exit_code == 0, result.output
    assert "at kimg 0.004" in result.output
    recorded = json.loads((out / "tuned" / "config.json").read_text())["train"]
    assert recorded["init_generator"] == str(start_file) and recorded["loss"]["blur_fade_kimg"] == 20
    assert recorded["generator"] == json.loads(json.dumps(micro_generator().to_dict()))
    refused = tmp_path / "refused"
    other_sizes = tmp_path / "wider.json"
    other_sizes.write_text(json.dumps(micro_generator(decoder_hidden=32).to_dict()))
    result = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(refused), "--init-generator",
                                       str(start_file), "--generator-config", str(other_sizes)])
    last = result.output.strip().splitlines()[-1]
    assert result.exit_code == 1 and "start.safetensors" in last and "decoder_hidden" in last, result.output
    assert "Traceback" not in result.output
    assert not refused.exists() or not any(refused.iterdir())
    negative = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(refused), "--init-generator",
                                         str(start_file), "--blur-fade-kimg", "-1"])
    assert negative.exit_code == 1 and "blur_fade_kimg must be >= 0" in negative.output
    missing = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(refused), "--init-generator",
                                        str(tmp_path / "nope.safetensors")])
    assert missing.exit_code == 1 and "nope.safetensors" in missing.output.strip().splitlines()[-1]


def test_d_warmup_keeps_g_still_until_d_has_learned_alone(data, tmp_path, start_file):
    start = load_generator(start_file)
    # batch 4: a warm-up of 1 kimg covers both steps; G (and so G_ema) stays the file's while D trains
    still = train(train_config(data, init_generator=str(start_file), d_warmup_kimg=1.0), run_options(tmp_path / "a", 2))
    assert max_difference(load_generator(still.run_dir), start) < 1e-4
    snapshot = load_latest_snapshot(still.run_dir)
    d_moments = [v for k, v in snapshot.tensors.get("D_opt", {}).items() if k.endswith(".exp_avg")]
    g_moments = [v for k, v in snapshot.tensors.get("G_opt", {}).items() if k.endswith(".exp_avg")]
    assert d_moments and any(v.abs().max() > 0 for v in d_moments)  # D stepped ...
    assert not g_moments  # ... G's optimizer never did
    # a warm-up of one step (4 images), stopped inside it and resumed: the later steps move G as usual
    train(train_config(data, init_generator=str(start_file), d_warmup_kimg=0.004), run_options(tmp_path / "b", 1))
    moved = train(None, run_options(tmp_path / "b", 3, resume="auto"))
    assert moved.state.step == 3
    assert max_difference(load_generator(moved.run_dir), start) > 1e-3


def test_a_run_continues_elsewhere_from_its_exported_generator_and_discriminator(data, tmp_path):
    first = train(train_config(data, d_mouth_mask=True), run_options(tmp_path / "first", 2))
    generator_file, d_file = tmp_path / "G.safetensors", tmp_path / "D.safetensors"
    for args in ([str(first.run_dir), str(generator_file), "--fp32"],
                 [str(first.run_dir), str(d_file), "--discriminator", "--fp32"]):
        result = CliRunner().invoke(main, ["export", *args])
        assert result.exit_code == 0, result.output
    trained_d = load_latest_snapshot(first.run_dir).module_state("D")
    # lr 1e-9: one step moves nothing measurable, so the new snapshot's D shows where the run started
    continued = train(train_config(data, d_mouth_mask=True, init_generator=str(generator_file),
                                   init_discriminator=str(d_file), lr_d=1e-9, lr_g=1e-9),
                      run_options(tmp_path / "continued", 1))
    new_d = load_latest_snapshot(continued.run_dir).module_state("D")
    assert max((new_d[k].float() - v.float()).abs().max().item() for k, v in trained_d.items()) < 1e-5
    fresh = train(train_config(data, d_mouth_mask=True, lr_d=1e-9), run_options(tmp_path / "fresh", 1))
    fresh_d = load_latest_snapshot(fresh.run_dir).module_state("D")
    assert max((fresh_d[k].float() - v.float()).abs().max().item() for k, v in trained_d.items()) > 1e-3

    # a D trained with the mouth-mask channel does not fit a run without it: one line, nothing written
    refused = tmp_path / "refused"
    result = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(refused), "--init-generator",
                                       str(generator_file), "--init-discriminator", str(d_file)])
    last = result.output.strip().splitlines()[-1]
    assert result.exit_code == 1 and "D.safetensors" in last and "cond_channels" in last, result.output
    assert not refused.exists() or not any(refused.iterdir())
    # the exported generator is not a discriminator file
    wrong = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(refused), "--d-mouth-mask",
                                      "--init-generator", str(generator_file), "--init-discriminator",
                                      str(generator_file)])
    assert wrong.exit_code == 1 and "not a discriminator file" in wrong.output.strip().splitlines()[-1]
    # and --discriminator needs a snapshot
    not_snapshot = CliRunner().invoke(main, ["export", str(generator_file), str(tmp_path / "x.safetensors"),
                                             "--discriminator"])
    assert not_snapshot.exit_code == 1 and "training snapshot" in not_snapshot.output
    assert not (tmp_path / "x.safetensors").exists()
