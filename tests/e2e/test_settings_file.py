"""settings.toml belongs to the user: no command-line flag, and no failed start, rewrites it.

Flags apply to the run they are given for; what a node remembers (its network,
where it last listened, dashboard choices) goes to its own state.toml.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuichain.config import build_config, load_state

from .helpers import NodePool, free_port, run_cli

USER_SETTINGS = """\
# My node. Keep this comment: the node must never rewrite this file.
network = "regtest"
miner_workers = 1   # one core for mining, the other for me

peers = []
"""


def assert_one_clear_line(stderr: str, needle: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[NodePool]:
    nodes = NodePool(tmp_path)
    yield nodes
    nodes.close()


@pytest.mark.slow
def test_settings_byte_identical_after_runs_with_every_flag(
    pool: NodePool, tmp_path: Path
) -> None:
    data_dir = tmp_path / "n"
    data_dir.mkdir()
    settings = data_dir / "settings.toml"
    settings.write_text(USER_SETTINGS)
    before = settings.read_bytes()
    peer_port = free_port()  # nobody listens there: the dial fails, the run goes on

    # A start that fails on its --host stores nothing that breaks the next start.
    failed = run_cli(
        ["--headless", "--port", str(free_port()), "--data-dir", str(data_dir),
         "--host", "127.0.0.1x"],
        pool.home,
    )
    assert failed.returncode != 0
    assert_one_clear_line(failed.stderr, "127.0.0.1x")
    assert settings.read_bytes() == before

    # Every flag of the main command at once (--data-dir/--network/--headless
    # come from the pool), run until it answers, then stopped.
    node = pool.spawn(
        "n",
        "--host", "127.0.0.1",
        "--peer", f"http://127.0.0.1:{peer_port}",
        "--mine",
        "--miner-workers", "2",
        "--mining-pace", "0.5",
        "--log-level", "debug",
    )
    assert node.stop() == 0
    assert settings.read_bytes() == before

    # The next plain start sees none of those flags, and none of the failed host.
    config = build_config(port=node.port, data_dir=data_dir)
    assert config.host == "127.0.0.1"
    assert config.peers == []
    assert config.miner_workers == 1
    state = load_state(data_dir)
    assert state["network"] == "regtest"
    assert state["port"] == node.port  # so `tuichain wallet --data-dir` finds the node
    assert "127.0.0.1x" not in (data_dir / "state.toml").read_text()


def test_network_defaults_from_state(tmp_path: Path) -> None:
    """A directory started once as regtest stays regtest without --network."""
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    (data_dir / "state.toml").write_text('network = "regtest"\n')
    assert build_config(port=5000, data_dir=data_dir).network.name == "regtest"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("miner_workers = 0\n", "miner_workers"),
        ('miner_workers = "two"\n', "miner_workers"),
        ('peers = "http://127.0.0.1:5001"\n', "peers"),
        ("theme = 3\n", "theme"),
        ("host = false\n", "host"),
    ],
)
def test_bad_value_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    (data_dir / "settings.toml").write_text(text)
    result = run_cli(
        ["--headless", "--port", str(free_port()), "--data-dir", str(data_dir)], tmp_path
    )
    assert result.returncode != 0
    line = assert_one_clear_line(result.stderr, str(data_dir / "settings.toml"))
    assert key in line
    assert (data_dir / "settings.toml").read_text() == text
    assert tomllib.loads(text)  # the file itself is valid TOML: the value is what is wrong
