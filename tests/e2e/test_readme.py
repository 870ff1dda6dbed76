"""The README's set-up commands, run as written in a fresh virtual environment.

Each shell block of the README is split into its `&&` steps. Steps run as
written, with three substitutions a test needs: the venv lives in tmp_path
instead of the repository, `.` is the repository, and the long-running last
step gets a harmless ending (`tuichain ... --help`; `pytest --collect-only`,
which imports every test module, so missing test tools show up, but runs
none of them). pip uses the machine's configured index and wheel cache.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BLOCK = re.compile(r"^```(?:sh|bash|shell|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)

pytestmark = pytest.mark.timeout(300)


def setup_section(text: str) -> str:
    """The README's set-up section: the two commands a new user runs first."""
    match = re.search(r"^## Set-up.*?(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no '## Set-up' section"
    return match.group(0)


def readme_commands(text: str) -> list[list[list[str]]]:
    """Every command of every shell block, each as its list of `&&` steps (argv lists)."""
    commands = []
    for block in BLOCK.findall(text):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.strip().removeprefix("$ ")
            if line and not line.startswith("#"):
                commands.append([shlex.split(step) for step in line.split("&&")])
    return commands


def test_readme_commands_parse() -> None:
    text = "x\n```sh\n# c\npython3 -m venv .venv && .venv/bin/pip install -e '.[test]'\n```\n"
    assert readme_commands(text) == [
        [["python3", "-m", "venv", ".venv"], [".venv/bin/pip", "install", "-e", ".[test]"]]
    ]


def _localize(step: list[str], venv: Path) -> list[str]:
    """The README step with the venv in tmp_path and `.` meaning the repository."""
    out = []
    for word in step:
        if word == ".venv" or word.startswith(".venv/"):
            word = str(venv) + word.removeprefix(".venv")
        elif word == "." or word.startswith(".["):
            word = str(REPO) + word[1:]
        out.append(word)
    return out


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not k.startswith("TUICHAIN")
    }
    env["TUICHAIN_HOME"] = str(cwd / "home")
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=240,
    )
    assert result.returncode == 0, (
        f"{shlex.join(argv)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-3000:]}"
    )
    return result


@pytest.mark.slow
def test_readme_setup_commands_work_in_a_fresh_venv(tmp_path: Path) -> None:
    commands = readme_commands(setup_section(README.read_text()))
    assert len(commands) == 2, f"the set-up section should hold two commands: {commands}"
    venv = tmp_path / ".venv"
    ran_tuichain = ran_pytest = False
    for command in commands:
        steps = [_localize(step, venv) for step in command]
        assert any(s[1:3] == ["-m", "venv"] for s in steps), f"no venv step in {command}"
        assert any("pip" in Path(s[0]).name and "install" in s for s in steps), command
        for step in steps:
            name = Path(step[0]).name
            if name == "tuichain":
                # As written, it would open the dashboard; --help checks the same command line.
                result = _run([*step, "--help"], tmp_path)
                assert "--port" in result.stdout
                assert "devnet" in result.stdout
                devnet = _run([step[0], "devnet", "--help"], tmp_path)
                assert "--nodes" in devnet.stdout
                ran_tuichain = True
            elif step[1:3] == ["-m", "pytest"]:
                result = _run([*step, "--collect-only", "-q"], REPO)
                assert "collected" in result.stdout
                ran_pytest = True
            else:
                _run(step, tmp_path)
    assert ran_tuichain, "the README never runs tuichain"
    assert ran_pytest, "the README never runs the tests"
    assert (venv / "bin" / "tuichain").exists()
