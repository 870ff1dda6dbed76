"""`tuichain --headless` as a real process: serve, log, stop on signals, resume, refuse clearly."""

from __future__ import annotations

import errno
import re
import signal
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import NodePool, assert_one_clear_line, cli_env, free_port, run_cli, wait_for

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[NodePool]:
    nodes = NodePool(tmp_path)
    yield nodes
    nodes.close()


def test_help_describes_the_node_and_wallet_commands(tmp_path: Path) -> None:
    result = run_cli(["--help"], tmp_path)
    assert result.returncode == 0
    for option in (
        "--port",
        "--data-dir",
        "--network",
        "--peer",
        "--headless",
        "--mine",
        "--miner-workers",
        "--mining-pace",
        "tuichain wallet",
    ):
        assert option in result.stdout
    wallet = run_cli(["wallet", "--help"], tmp_path)
    assert wallet.returncode == 0
    for command in ("new", "address", "balance", "send"):
        assert command in wallet.stdout


def test_version_is_the_projects(tmp_path: Path) -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    result = run_cli(["--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"tuichain {project['version']}\n"


def test_port_not_allowed_reads_the_same_in_the_cli_and_the_dashboard() -> None:
    """Compared directly: root may bind any port, so no test can provoke EACCES for real."""
    from tuichain.app import describe_start_error
    from tuichain.cli.args import port_error_message

    refused = OSError(errno.EACCES, "Permission denied")
    cli = port_error_message("127.0.0.1", 80, refused)
    assert cli == "not allowed to listen on port 80: choose a port from 1024 to 65535"
    assert describe_start_error(refused, 80) == f"{cli}."


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_status_writes_log_and_stops_cleanly(pool: NodePool, sig: signal.Signals) -> None:
    node = pool.spawn("a")
    status = node.status()
    assert status["network"] == "regtest"
    assert status["height"] == 0
    assert node.stop(sig) == 0
    log = (node.data_dir / "node.log").read_text()
    assert "listening on" in log
    assert f"{sig.name} received" in log
    assert "stopped cleanly" in log
    # stdout carries the same log; stderr is for errors only.
    assert "listening on" in node.stdout()
    assert "Traceback" not in node.stdout() + node.stderr()


def test_mine_creates_a_wallet_says_so_and_restart_resumes_height(pool: NodePool) -> None:
    node = pool.spawn("m", "--mine", "--mining-pace", "0.05")
    node.wait_height(3)  # blocks pay a wallet, so by now it exists
    assert (node.data_dir / "wallet.json").exists()
    out = node.stdout()
    assert "no wallet found: created one at" in out
    mined_to = re.search(r"mining continuously to (\S+)", out)
    assert mined_to is not None, out
    address = pool.wallet("address", "--data-dir", str(node.data_dir))
    assert address.stdout.strip() == mined_to.group(1)

    assert node.stop() == 0
    # The height once stopped: a block found as the stop began is stored as well (the
    # "stopping at height" line, logged as the stop begins, was one short in a CI run).
    stopped = re.search(r"stopped cleanly at height (\d+)", node.stdout())
    assert stopped is not None, node.stdout()
    height = int(stopped.group(1))
    assert height >= 3

    restarted = pool.spawn("m", port=node.port)  # same data dir, no --mine
    assert restarted.height() == height
    # The wallet that was created is kept, not replaced, and mining stays off.
    assert "created one" not in restarted.stdout()
    assert restarted.status()["mining"] is False
    assert restarted.stop() == 0


def test_port_in_use_is_one_clear_line(pool: NodePool, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run_cli(
            [
                "--headless",
                "--port",
                str(port),
                "--network",
                "regtest",
                "--data-dir",
                str(tmp_path / "x"),
            ],
            tmp_path,
        )
    assert result.returncode != 0
    assert_one_clear_line(result.stderr, "already in use", str(port))

    # The same against a running node, the more likely case.
    node = pool.spawn("a")
    result = run_cli(
        [
            "--headless",
            "--port",
            str(node.port),
            "--network",
            "regtest",
            "--data-dir",
            str(tmp_path / "y"),
        ],
        tmp_path,
    )
    assert result.returncode != 0
    assert_one_clear_line(result.stderr, "already in use")
    assert node.running


def _settings(path: Path, text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "settings.toml").write_text(text)
    return path


@pytest.mark.parametrize(
    ("args", "settings", "needle"),
    [
        (["--network", "mainnet"], None, "unknown network"),
        (["--peer", "ftp://127.0.0.1:1"], None, "bad peer URL"),
        (["--peer", "http://127.0.0.1:99999"], None, "bad peer URL"),
        (["--port", "http"], None, "not a port number"),
        (["--mining-pace", "-1"], None, "mining pace"),
        ([], "network = [broken", "cannot read"),
        (["--network", "regtest"], 'network = "default"\n', "belongs to a 'default' node"),
        ([], 'network = "nosuchnet"\n', "unknown network"),
    ],
    ids=[
        "network",
        "peer-scheme",
        "peer-port",
        "port",
        "pace",
        "settings",
        "wrong-net",
        "stored-net",
    ],
)
def test_user_errors_are_one_line_without_traceback(
    tmp_path: Path, args: list[str], settings: str | None, needle: str
) -> None:
    data_dir = tmp_path / "d"
    if settings is not None:
        _settings(data_dir, settings)
    result = run_cli(
        ["--headless", "--port", str(free_port()), "--data-dir", str(data_dir), *args], tmp_path
    )
    assert result.returncode != 0
    assert_one_clear_line(result.stderr, needle)
    if settings is not None:  # a refused start leaves the user's settings alone
        assert (data_dir / "settings.toml").read_text() == settings


def test_chain_of_another_network_is_refused(pool: NodePool, tmp_path: Path) -> None:
    node = pool.spawn("r")
    assert node.stop() == 0
    # Without state.toml only the chain database knows its network.
    (node.data_dir / "state.toml").unlink()
    result = run_cli(
        [
            "--headless",
            "--port",
            str(node.port),
            "--data-dir",
            str(node.data_dir),
            "--network",
            "default",
        ],
        tmp_path,
    )
    assert result.returncode != 0
    assert_one_clear_line(
        result.stderr, "regtest", str(node.data_dir / "chain.sqlite3"), "move it aside"
    )


def test_stop_during_mining_loses_nothing(pool: NodePool) -> None:
    """A node stopped while mining restarts with a chain it can extend."""
    node = pool.spawn("s", "--mine", "--mining-pace", "0")
    node.wait_height(2)
    tip = wait_for(lambda: node.status(), "status")
    assert node.stop(signal.SIGINT) == 0
    again = pool.spawn("s", "--mine", "--mining-pace", "0.05", port=node.port)
    again.wait_height(int(tip["height"]) + 2)
    assert again.stop() == 0


def test_headless_and_wallet_paths_never_import_textual(tmp_path: Path) -> None:
    code = (
        "import sys, tuichain.cli, tuichain.cli.headless, tuichain.cli.wallet, tuichain.node\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
