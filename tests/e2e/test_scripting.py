"""The README's scripting flow, run by bash as written: wait, mine 101, send --wait, balance.

The block is taken from the README itself, so the documented flow is the
tested one; only its ports change (to free ones) and its home directory (to
tmp_path). bash runs it with -euo pipefail: every command must exit 0. The
flow has no sleeps: each step returns when what it waited for has happened.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tuichain.core.params import COIN

from .helpers import cli_env, free_port

REPO = Path(__file__).resolve().parents[2]
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def scripting_flow() -> str:
    text = (REPO / "README.md").read_text()
    section = re.search(r"^## Scripting\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Scripting' section"
    blocks = [b for b in BASH_BLOCK.findall(section.group(1)) if "tuichain wait" in b]
    assert blocks, "the Scripting section has no bash block with `tuichain wait`"
    return blocks[0]


def test_the_readme_flow_confirms_a_payment_with_exit_0_everywhere(tmp_path: Path) -> None:
    script = scripting_flow()
    assert "sleep" not in script
    for step in ("tuichain wait", "tuichain mine 101", "--wait", "wallet balance"):
        assert step in script
    ports = {"5000": str(free_port()), "5001": str(free_port())}
    script = re.sub(r"\b500[01]\b", lambda m: ports[m.group(0)], script)
    env = cli_env(tmp_path / "home")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        start_new_session=True,  # one process group: a failure below takes the nodes too
    )
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    logs = "".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("node*.log"))
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}\n{logs}"
    balance = json.loads(out.strip().splitlines()[-1])
    assert balance["confirmed"] == 12 * COIN + COIN // 2
    assert balance["confirmed_coins"] == "12.5"
    hashes = [line for line in out.splitlines() if re.fullmatch(r"[0-9a-f]{64}", line)]
    assert len(hashes) == 102  # 101 mined blocks, then the block that confirmed the payment


def test_without_a_running_node_each_command_fails_in_one_line(tmp_path: Path) -> None:
    from .helpers import run_cli

    where = ["--port", str(free_port()), "--network", "regtest"]
    for args, says in (
        (["mine", "1", *where], "no control cookie"),
        (["mining", "status", *where], "no control cookie"),
        (["status", *where, "--json"], "no control cookie"),
        (["wait", *where, "--timeout", "0.3"], "gave up after 0.3 s"),
        (["mine", "0", *where], "must be 1-"),
    ):
        result = run_cli(args, tmp_path / "home")
        assert result.returncode != 0, args
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1, result.stderr
        assert says in result.stderr, result.stderr
