"""`next3d export`: a shippable file holds only the EMA weights, renders like the run, and never overwrites."""

import torch
from click.testing import CliRunner

from next3d.cli import main
from next3d.head import HeadParams, load_default_head
from next3d.io.checkpoint import load_checkpoint, save_checkpoint
from next3d.io.generator_file import generator_meta, load_generator
from next3d.networks.generator import Next3DGenerator
from next3d.networks.presets import preset_config
from next3d.render import camera


def test_export_keeps_only_the_ema_generator_and_renders_the_same(tmp_path):
    torch.manual_seed(0)
    G = Next3DGenerator(preset_config("tiny"), load_default_head()).eval()
    run = tmp_path / "run"
    snapshot = run / "snapshot-000004.safetensors"
    save_checkpoint(snapshot, {"G": G, "G_ema": G, "D": {"w": torch.ones(3)}, "opt_G": {"exp_avg": torch.ones(5)}},
                    {"kind": "snapshot", **generator_meta(G, training={"kimg": 4.0})})
    out = tmp_path / "shipped.safetensors"
    result = CliRunner().invoke(main, ["export", str(run), str(out), "--fp32"])
    assert result.exit_code == 0, result.output
    assert set(load_checkpoint(out).tensors) == {"G_ema"}
    z, c = torch.randn(1, 512), camera.make_label(camera.orbit_pose(0.1, 0.0))
    with torch.no_grad():
        assert torch.equal(load_generator(out)(z, c, HeadParams.neutral(G.head)).image,
                           G(z, c, HeadParams.neutral(G.head)).image)
    again = CliRunner().invoke(main, ["export", str(run), str(out)])
    assert again.exit_code != 0 and "exists" in again.output
    half = CliRunner().invoke(main, ["export", str(run), str(out), "--force"])
    assert half.exit_code == 0 and out.stat().st_size < snapshot.stat().st_size / 2


def test_export_refuses_other_checkpoint_kinds(tmp_path):
    other = tmp_path / "other.safetensors"
    save_checkpoint(other, {"x": {"w": torch.zeros(1)}}, {"kind": "dataset-stats"})
    result = CliRunner().invoke(main, ["export", str(other), str(tmp_path / "o.safetensors")])
    assert result.exit_code != 0 and "generator or a prior" in result.output
    assert not (tmp_path / "o.safetensors").exists()
