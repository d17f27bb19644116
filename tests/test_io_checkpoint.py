"""Checkpoint files: round trip, run-directory resolution, and clear refusals of bad files."""

import json

import pytest
import torch

from next3d.errors import BadInputError
from next3d.head import HeadParams, load_default_head
from next3d.io.checkpoint import load_checkpoint, read_meta, resolve_checkpoint, save_checkpoint
from next3d.io.generator_file import load_generator, save_generator
from next3d.networks.generator import Next3DGenerator
from next3d.networks.presets import preset_config
from next3d.render import camera


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    return Next3DGenerator(preset_config("tiny"), load_default_head()).eval()


def test_generator_round_trip_renders_the_same_image(G, tmp_path):
    path = tmp_path / "g.safetensors"
    save_generator(path, G, note="test")
    assert not list(tmp_path.glob(".*tmp*")), "no temporary file left behind"
    G2 = load_generator(path)
    z, c = torch.randn(1, 512), camera.make_label(camera.orbit_pose(0.2, 0.0))
    hp = HeadParams.neutral(G.head)
    with torch.no_grad():
        assert torch.equal(G(z, c, hp).image, G2(z, c, hp).image)
    meta = read_meta(path)
    assert meta["kind"] == "generator" and meta["head"]["hash"] == G.head_hash and meta["note"] == "test"


def test_fp16_file_is_half_the_size_and_close(G, tmp_path):
    full, half = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_generator(full, G)
    save_generator(half, G, dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    G2 = load_generator(half)
    for (k, a), b in zip(G.state_dict().items(), G2.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-3), k


def test_run_directory_resolves_to_latest_snapshot(tmp_path):
    for kimg in (4, 12, 8):
        save_checkpoint(tmp_path / f"snapshot-{kimg:06d}.safetensors", {"x": {"w": torch.zeros(1)}}, {"kind": "snapshot"})
    assert resolve_checkpoint(tmp_path).name == "snapshot-000012.safetensors"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match="not a training run directory"):
        resolve_checkpoint(empty)


def test_bad_files_are_refused_with_the_path_named(tmp_path, G):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(BadInputError, match="no such checkpoint"):
        load_checkpoint(missing)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00\x01 not a safetensors file")
    with pytest.raises(BadInputError, match="junk.safetensors"):
        load_checkpoint(junk)
    truncated = tmp_path / "cut.safetensors"
    save_generator(truncated, G)
    truncated.write_bytes(truncated.read_bytes()[:-1000])
    with pytest.raises(BadInputError, match="cut.safetensors"):
        load_generator(truncated)


def test_shape_mismatch_names_the_tensors(G, tmp_path):
    path = tmp_path / "g.safetensors"
    state = G.state_dict()
    state["decoder.net.0.weight"] = torch.zeros(3, 3)
    del state["superresolution.block1.torgb.bias"]
    meta = {"kind": "generator", "generator_config": G.config.to_dict(), "head": {"name": G.head.name, "hash": G.head_hash}}
    save_checkpoint(path, {"G_ema": state}, meta)
    with pytest.raises(BadInputError) as err:
        load_generator(path)
    assert "decoder.net.0.weight" in str(err.value) and "superresolution.block1.torgb.bias" in str(err.value)


def test_wrong_head_model_is_refused(G, tmp_path):
    path = tmp_path / "g.safetensors"
    meta = {"kind": "generator", "generator_config": G.config.to_dict(), "head": {"name": "flame", "hash": "ab" * 32}}
    save_checkpoint(path, {"G_ema": G}, meta)
    with pytest.raises(BadInputError, match="trained with head model 'flame'"):
        load_generator(path)


def test_newer_format_and_foreign_safetensors_are_refused(tmp_path):
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(BadInputError, match="without Next3D metadata"):
        load_checkpoint(foreign)
    newer = tmp_path / "newer.safetensors"
    save_file({"w": torch.zeros(2)}, str(newer), metadata={"next3d": json.dumps({"format": 99})})
    with pytest.raises(BadInputError, match="newer"):
        load_checkpoint(newer)
