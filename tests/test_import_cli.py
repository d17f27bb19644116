"""`python -m next3d import-pkl`: report, dry run, writing a loadable checkpoint, refusing bad files."""

from __future__ import annotations

import math

import pytest
import torch
from click.testing import CliRunner

from next3d.cli import main
from next3d.head import load_default_head
from next3d.io.checkpoint import read_meta
from next3d.io.generator_file import load_generator
from next3d.networks.generator import Next3DGenerator
from next3d.networks.presets import preset_config
from next3d.utils.hashing import file_sha256
from test_import_official_planes import flame_placed
from test_import_roundtrip import SR_2X, official_file


@pytest.fixture(scope="module")
def eg3d_pickle(tmp_path_factory):
    torch.manual_seed(5)
    G = Next3DGenerator(preset_config("tiny", architecture="eg3d", **SR_2X), load_default_head())
    return official_file(tmp_path_factory.mktemp("eg3d"), G, name="ffhq512-128.pkl")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_dry_run_prints_the_report_and_writes_nothing(tmp_path, eg3d_pickle):
    result = invoke("import-pkl", eg3d_pickle, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"sha256:       {file_sha256(eg3d_pickle)}" in result.stdout
    assert "skipped (1): dataset label statistics" in result.stdout and "dry run: nothing written" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_import_writes_a_checkpoint_our_tools_load(tmp_path, eg3d_pickle):
    out = tmp_path / "ffhq.safetensors"
    result = invoke("import-pkl", eg3d_pickle, out)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith(f"wrote {out} (eg3d,")
    meta = read_meta(out)
    assert meta["source"]["sha256"] == file_sha256(eg3d_pickle) and meta["source"]["file"] == "ffhq512-128.pkl"
    assert meta["source"]["skipped"] == ["dataset_label_std", "superresolution.resample_filter"]
    assert load_generator(out).is_eg3d
    again = invoke("import-pkl", eg3d_pickle, out)
    assert again.exit_code == 1 and again.stderr == f"error: {out}: already exists (pass --force to overwrite)\n"
    assert invoke("import-pkl", eg3d_pickle, out, "--force").exit_code == 0


def test_next3d_import_takes_the_head_file(tmp_path):
    head = flame_placed(load_default_head())
    head.save(tmp_path / "head.safetensors")
    torch.manual_seed(6)
    G = Next3DGenerator(preset_config("tiny", official_plane_layout=True, **SR_2X), head)
    source = official_file(tmp_path, G, head)
    out = tmp_path / "next3d.safetensors"
    missing_head = invoke("import-pkl", source, out)
    assert missing_head.exit_code == 1 and "needs the FLAME head model it was trained with" in missing_head.stderr
    result = invoke("import-pkl", source, out, "--head", tmp_path / "head.safetensors")
    assert result.exit_code == 0, result.output
    loaded = load_generator(out, head=head)
    assert loaded.config.official_plane_layout and all(
        torch.equal(v, G.state_dict()[k]) for k, v in loaded.state_dict().items())


@pytest.mark.parametrize("damage", ["nan", "shape"])
def test_bad_weights_are_listed_and_nothing_is_written(tmp_path, damage):
    torch.manual_seed(7)
    G = Next3DGenerator(preset_config("tiny", architecture="eg3d", **SR_2X), load_default_head())

    def edit(tree, values):
        if damage == "nan":
            values["decoder.net.0.bias"] = torch.full_like(values["decoder.net.0.bias"], math.nan)
        else:
            tree.modules["decoder"].modules["net"].modules["0"].params["bias"] = (5,)
            values["decoder.net.0.bias"] = torch.zeros(5)

    source = official_file(tmp_path, G, edit=edit)
    out = tmp_path / "out.safetensors"
    result = invoke("import-pkl", source, out)
    assert result.exit_code == 1 and not out.exists()
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {source}: cannot convert (")
    expected = ("PROBLEM: decoder.net.0.bias contains NaN or Inf" if damage == "nan"
                else "MIS-SHAPED: decoder.net.0.bias: file (5,) vs model (32,)")
    assert expected in result.stdout.splitlines()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pkl"]
