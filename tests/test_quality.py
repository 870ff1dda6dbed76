"""Lint and type checks as tests: `ruff check .` and `mypy` must both pass.

Both run from the repository root so they pick up the [tool.ruff] and [tool.mypy]
settings in pyproject.toml (mypy's `files` setting selects the tuichain package).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _report(proc: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(proc.args)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}"


def test_ruff_check_is_clean() -> None:
    proc = _run("ruff", "check", ".")
    assert proc.returncode == 0, _report(proc)


def test_mypy_is_clean() -> None:
    proc = _run("mypy")
    assert proc.returncode == 0, _report(proc)
