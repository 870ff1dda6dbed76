"""A wallet command pointed at a directory that does not exist says which ones do."""

from __future__ import annotations

from pathlib import Path

from .helpers import run_cli


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _home_with_nodes(home: Path) -> str:
    """regtest-5001 (a node's state) and devnet/node2 (a wallet); returns node2's address."""
    (home / "regtest-5001").mkdir(parents=True)
    (home / "regtest-5001" / "state.toml").write_text('network = "regtest"\nport = 5001\n')
    (home / "not-a-node").mkdir()  # nothing of a node's in it: not listed
    made = run_cli(
        ["wallet", "new", "--data-dir", str(home / "devnet" / "node2"), "--network", "regtest"],
        home,
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_missing_directory_lists_the_existing_ones(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _home_with_nodes(home)
    result = run_cli(["wallet", "balance", "--port", "5001"], home)
    assert result.returncode != 0
    line = _one_line(result.stderr)
    assert str(home / "5001") in line
    assert "regtest-5001 (--port 5001 --network regtest)" in line
    assert "devnet/node2 (--devnet 2)" in line
    assert "not-a-node" not in line
    assert "wallet new" not in line
    assert not (home / "5001").exists()  # asking created nothing


def test_devnet_option_selects_the_node_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    address = _home_with_nodes(home)
    result = run_cli(["wallet", "address", "--devnet", "2"], home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == address
    both = run_cli(["wallet", "address", "--devnet", "2", "--data-dir", str(home)], home)
    assert both.returncode != 0
    assert "--devnet" in _one_line(both.stderr)


def test_no_directories_at_all_says_how_to_start(tmp_path: Path) -> None:
    result = run_cli(["wallet", "balance", "--port", "5001"], tmp_path / "empty-home")
    assert result.returncode != 0
    line = _one_line(result.stderr)
    assert "no node data directory" in line
    assert "tuichain --port" in line
