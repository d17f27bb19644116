"""Failure behaviour of every command: bad arguments, missing, corrupt or truncated files, wrong shapes, NaN/Inf
inputs and GPU out-of-memory give one `error:` line on stderr, a non-zero exit, no traceback (unless --debug)
and nothing left in the output folder; no GPU falls back to the CPU with one warning line."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from next3d.cli import COMMANDS, main
from next3d.head import load_default_head
from next3d.io.generator_file import save_generator
from next3d.networks.generator import Next3DGenerator
from next3d.networks.presets import preset_config
from test_import_layout import Node, to_pickle_objects, write_official_pickle

REPO = Path(__file__).resolve().parents[1]
PRESENT_NOW = ("bench", "dataset", "head", "render", "video", "import-pkl")
OOM_LINE = "error: out of GPU memory; use a smaller --batch, a smaller preset, or --device cpu\n"


@dataclass(frozen=True)
class Case:
    """One failing invocation; `{in}` / `{out}` in argv are the inputs folder and an empty output folder."""

    name: str
    argv: str

    @property
    def command(self) -> str:
        return self.argv.split()[0]


CASES = [
    Case("bad argument", "bench raster --batch x"),
    Case("bad argument", "bench generator --preset tiny --modes bogus"),
    Case("bad argument", "bench frames --device cpu --precisions fp64"),
    Case("missing checkpoint", "bench frames --device cpu --ckpt {in}/missing.safetensors --repeat 1"),
    Case("corrupt file", "dataset info {in}/random.bin"),
    Case("missing file", "dataset check {in}/missing"),
    Case("NaN camera label", "dataset pack --images {in}/images --cameras {in}/nan_cameras.json --out {out}/packed"),
    Case("corrupt cameras", "dataset pack --images {in}/images --cameras {in}/random.bin --out {out}/packed"),
    Case("bad argument", "dataset synth --out {out}/synth --n 2 --res 3"),
    Case("corrupt file", "head info {in}/random.bin"),
    Case("truncated file", "head info {in}/truncated_head.safetensors"),
    Case("corrupt FLAME", "head import-flame --pkl {in}/random.bin --obj {in}/random.bin --out {out}/flame.safetensors"),
    Case("corrupt checkpoint", "render --ckpt {in}/random.bin --out {out}/images"),
    Case("truncated checkpoint", "render --ckpt {in}/truncated.safetensors --out {out}/images"),
    Case("missing checkpoint", "render --ckpt {in}/missing.safetensors --out {out}/images"),
    Case("NaN camera", "render --ckpt builtin:tiny-random --yaw nan --out {out}/images"),
    Case("Inf psi", "render --ckpt builtin:tiny-random --psi inf --out {out}/images"),
    Case("NaN expression", "render --ckpt builtin:tiny-random --expression-file {in}/nan_seq.npz --out {out}/images"),
    Case("wrong shape", "render --ckpt builtin:tiny-random --expression-file {in}/big_seq.npz --out {out}/images"),
    Case("bad argument", "video --ckpt builtin:tiny-random --out {out}/clip.avi"),
    Case("corrupt checkpoint", "video --ckpt {in}/random.bin --out {out}/clip.mp4"),
    Case("wrong shape", "video --ckpt builtin:tiny-random --kind expression --expression-file {in}/jaw_seq.npz "
                        "--out {out}/clip.mp4"),
    Case("missing file", "import-pkl {in}/missing.pkl {out}/g.safetensors"),
    Case("corrupt file", "import-pkl {in}/random.bin {out}/g.safetensors"),
    Case("truncated file", "import-pkl {in}/truncated.pkl {out}/g.safetensors"),
    Case("malicious file", "import-pkl {in}/evil.pkl {out}/g.safetensors"),
    Case("not a generator", "import-pkl {in}/discriminator.pkl {out}/g.safetensors"),
    Case("missing file", "train-diffusion --data {in}/missing --out {out}/run"),
    Case("corrupt file", "sample-diffusion --prior {in}/random.bin --random-init --preset tiny --out {out}/samples"),
    Case("bad argument", "save-samples --random-init --preset tiny --n 0 --out {out}/store"),
    Case("corrupt file", "gen-from-latents --latents {in}/random.bin --random-init --preset tiny --out {out}/renders"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "random.bin").write_bytes(np.random.default_rng(0).bytes(4096))
    (folder / "images").mkdir()
    Image.new("RGB", (16, 16)).save(folder / "images" / "img0.png")
    (folder / "nan_cameras.json").write_text(json.dumps({"img0.png": [float("nan")] + [0.0] * 24}))
    np.savez(folder / "nan_seq.npz", expression=np.full((3, 52), np.nan, np.float32))
    np.savez(folder / "big_seq.npz", expression=np.zeros((3, 60), np.float32))
    np.savez(folder / "jaw_seq.npz", jaw=np.zeros((3, 2), np.float32))
    load_default_head().save(folder / "head.safetensors")
    _truncate(folder / "head.safetensors", folder / "truncated_head.safetensors")
    save_generator(folder / "tiny.safetensors", Next3DGenerator(preset_config("tiny"), load_default_head()))
    _truncate(folder / "tiny.safetensors", folder / "truncated.safetensors")
    write_official_pickle(folder / "net.pkl", {"G_ema": to_pickle_objects(Node("TriPlaneGenerator", params={"w": (64,)}), {})})
    _truncate(folder / "net.pkl", folder / "truncated.pkl")
    write_official_pickle(folder / "discriminator.pkl",
                          {"G_ema": to_pickle_objects(Node("DualDiscriminator", params={"w": (3,)}), {})})
    (folder / "evil.pkl").write_bytes(pickle.dumps({"G_ema": _Evil(str(folder / "pwned"))}))
    return folder


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _truncate(source: Path, target: Path) -> None:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])


def _run(argv: list[str]):
    return CliRunner().invoke(main, argv)


def _assert_one_error_line(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert stderr.startswith("error: ") and stderr.endswith("\n") and stderr.count("\n") == 1, repr(stderr)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.command}: {c.name}" for c in CASES])
def test_failures_are_one_line_and_leave_no_output(case, inputs, tmp_path):
    if case.command not in COMMANDS:
        pytest.skip(f"'{case.command}' is not a command in this checkout")
    argv = case.argv.replace("{in}", str(inputs)).replace("{out}", str(tmp_path)).split()
    result = _run(argv)
    assert result.exit_code != 0, result.output
    _assert_one_error_line(result.stderr)
    assert list(tmp_path.iterdir()) == [], "partial output left behind"
    assert not (inputs / "pwned").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_reports_an_unknown_option_in_one_line(command):
    result = _run([command, "--no-such-option"])
    assert result.exit_code == 2
    _assert_one_error_line(result.stderr)
    assert f" {command}: No such option '--no-such-option'" in result.stderr


def test_the_sweep_covers_every_command_present_now():
    assert set(PRESENT_NOW) <= set(COMMANDS)
    swept = {case.command for case in CASES}
    assert set(PRESENT_NOW) <= swept
    for name in ("bad argument", "corrupt file", "missing file", "wrong shape", "truncated file"):
        assert any(case.name == name for case in CASES if case.command in PRESENT_NOW), name
    assert any("NaN" in case.name or "Inf" in case.name for case in CASES)


def test_gpu_out_of_memory_is_one_line(monkeypatch, inputs, tmp_path):
    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr("next3d.io.official_import.import_official_generator", out_of_memory)
    result = _run(["import-pkl", str(inputs / "net.pkl"), str(tmp_path / "g.safetensors")])
    assert result.exit_code == 1 and result.stderr == OOM_LINE
    monkeypatch.setattr("next3d.capture.renderer.Renderer.render_image", out_of_memory)
    result = _run(["render", "--ckpt", "builtin:tiny-random", "--out", str(tmp_path / "images")])
    assert result.exit_code == 1 and result.stderr.splitlines()[-1] == OOM_LINE.strip()
    assert "Traceback" not in result.stderr and not (tmp_path / "images").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on a machine without CUDA")
def test_no_gpu_falls_back_to_the_cpu_with_one_warning():
    from next3d.utils.device import resolve_device

    warnings = []
    assert resolve_device("cuda", warn=warnings.append) == torch.device("cpu")
    assert len(warnings) == 1 and "no CUDA GPU" in warnings[0] and "CPU" in warnings[0]
    result = _run(["head", "bench", "--device", "cuda", "--batch", "1", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "warning: --device cuda asked for, but no CUDA GPU is available; running on the CPU (slow)"]


def _subprocess(*argv: str):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "next3d", *argv], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)


def test_real_process_exit_codes_and_debug_traceback(inputs, tmp_path):
    out = tmp_path / "g.safetensors"
    plain = _subprocess("import-pkl", str(inputs / "truncated.pkl"), str(out))
    assert plain.returncode == 1
    _assert_one_error_line(plain.stderr)
    debug = _subprocess("--debug", "import-pkl", str(inputs / "truncated.pkl"), str(out))
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1] == plain.stderr.strip()
    usage = _subprocess("render", "--yaw")
    assert usage.returncode == 2
    _assert_one_error_line(usage.stderr)
    assert list(tmp_path.iterdir()) == []
