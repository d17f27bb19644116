"""The README's two commands are the ones CI and users run; keep them honest."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", text, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    blocks = readme_commands()
    test_cmds = [b.strip() for b in blocks if "pytest" in b]
    assert len(test_cmds) == 1, "README must show exactly one test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmds[0] in ci.splitlines(), "`.ci/run` must call the README's test command verbatim"
    assert "torch==2.13.0" in ci  # the CPU wheel on disk, installed before anything pulls an unpinned torch


def test_readme_has_the_install_and_run_command():
    assert any("pip install" in b and "visualizer.py" in b for b in readme_commands())


def test_torch_is_not_pinned_to_one_version():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"torch(>=[\d.]+)?"', pyproject) and "torch==" not in pyproject
