"""`python -m next3d head info|import-flame`: what a user sees, including the one-line errors."""

from __future__ import annotations

from click.testing import CliRunner

from next3d.cli import main
from next3d.head import HeadModel, default_head_path, load_default_head


def test_info_shows_name_counts_expression_names_and_hash():
    result = CliRunner().invoke(main, ["head", "info", str(default_head_path())])
    assert result.exit_code == 0, result.output
    head = load_default_head()
    assert "next3d-default" in result.output
    assert head.content_hash() in result.output
    assert f"vertices:    {head.num_vertices}" in result.output
    assert "mouthSmileLeft" in result.output and "tongueOut" in result.output


def test_info_on_a_missing_file_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, ["head", "info", str(tmp_path / "missing.safetensors")])
    assert result.exit_code == 1
    assert "error: head file" in result.output and "missing.safetensors': not found" in result.output
    assert "Traceback" not in result.output


def test_import_flame_writes_a_loadable_head(tmp_path):
    from test_head_flame import write_deca_landmarks, write_flame

    pkl, obj, arrays = write_flame(tmp_path)
    landmarks = tmp_path / "landmark_embedding.npy"
    write_deca_landmarks(landmarks, len(arrays["f"]))
    out = tmp_path / "flame_head.safetensors"
    result = CliRunner().invoke(main, ["head", "import-flame", "--pkl", str(pkl), "--obj", str(obj),
                                       "--landmarks", str(landmarks), "--shape", "10", "--expression", "8",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    head = HeadModel.load(out)
    assert head.num_shape == 10 and head.num_expression == 8 and head.num_landmarks == 68
    assert head.content_hash()[:16] in result.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left


def test_bench_prints_a_timing_table():
    result = CliRunner().invoke(main, ["head", "bench", "--batch", "1,2", "--repeat", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "forward ms" in result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2"] and all(float(row[1]) > 0 for row in rows)
    bad = CliRunner().invoke(main, ["head", "bench", "--batch", "x"])
    assert bad.exit_code == 1 and "--batch 'x': expected comma-separated integers" in bad.output
