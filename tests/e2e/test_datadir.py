"""What a node trusts in its data directory: one process at a time, a writable store of
its own chain, and a wallet file that is intact and private. Real processes throughout."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuichain.datadir import LOCK_FILE, DataDirInUse, lock_data_dir

from .helpers import NodePool, assert_one_clear_line, free_port, run_cli

pytestmark = pytest.mark.timeout(180)

DB = "chain.sqlite3"


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[NodePool]:
    nodes = NodePool(tmp_path)
    yield nodes
    nodes.close()


def start(pool: NodePool, data_dir: Path, *args: str, plain_user: bool = False):  # noqa: ANN201
    """Run `tuichain --headless` on data_dir expecting it to refuse (it exits on its own)."""
    return run_cli(
        ["--headless", "--port", str(free_port()), "--data-dir", str(data_dir),
         "--network", "regtest", *args],
        pool.home,
        plain_user=plain_user,
    )


def new_wallet(pool: NodePool, data_dir: Path) -> Path:
    result = pool.wallet("new", "--data-dir", str(data_dir), "--network", "regtest")
    assert result.returncode == 0, result.stderr
    return data_dir / "wallet.json"


# ---- one process per data directory ------------------------------------------------


def test_the_lock_is_exclusive_even_within_one_process(tmp_path: Path) -> None:
    first = lock_data_dir(tmp_path / "d")
    try:
        with pytest.raises(DataDirInUse) as refused:
            lock_data_dir(tmp_path / "d")
        assert refused.value.pid == first.pid
        assert str(tmp_path / "d") in refused.value.reason
        # Another directory is another lock: in-process nodes in separate dirs coexist.
        lock_data_dir(tmp_path / "e").release()
    finally:
        first.release()
    lock_data_dir(tmp_path / "d").release()


@pytest.mark.slow
def test_a_second_node_on_a_directory_in_use_is_refused_and_changes_nothing(
    pool: NodePool,
) -> None:
    node = pool.spawn("a")
    assert node.proc is not None
    pid = node.proc.pid
    settings = (node.data_dir / "state.toml").read_bytes()
    lock = (node.data_dir / LOCK_FILE).read_text()
    assert lock.strip() == str(pid)
    for mode in (["--headless"], []):  # headless and the dashboard alike
        other = free_port()
        result = run_cli(
            [*mode, "--port", str(other), "--data-dir", str(node.data_dir),
             "--network", "regtest", "--mine"],
            pool.home,
        )
        assert result.returncode == 1
        assert_one_clear_line(
            result.stderr, f"data directory {node.data_dir} is in use by process {pid}"
        )
        # Not even state.toml (which records the port) was rewritten.
        assert (node.data_dir / "state.toml").read_bytes() == settings
        assert (node.data_dir / LOCK_FILE).read_text() == lock
        assert str(other) not in (node.data_dir / "node.log").read_text()
    assert not (node.data_dir / "wallet.json").exists(), "--mine of the refused one made a wallet"
    assert node.running
    assert node.status()["network"] == "regtest"


@pytest.mark.slow
def test_wallet_commands_beside_a_running_node(pool: NodePool) -> None:
    """Reading the wallet works beside the node; creating one there waits for it to stop."""
    node = pool.spawn("w")
    assert node.proc is not None
    refused = pool.wallet("new", "--data-dir", str(node.data_dir), "--network", "regtest")
    assert refused.returncode == 1
    assert_one_clear_line(refused.stderr, f"is in use by process {node.proc.pid}")
    assert not (node.data_dir / "wallet.json").exists()
    node.kill()  # SIGKILL: the kernel drops the lock with the process, the stale pid is no bar
    new_wallet(pool, node.data_dir)
    again = pool.spawn("w", port=node.port)
    address = pool.wallet("address", "--data-dir", str(again.data_dir))
    assert address.returncode == 0, address.stderr
    balance = pool.wallet("balance", "--data-dir", str(again.data_dir), "--json")
    assert balance.returncode == 0, balance.stderr
    assert json.loads(balance.stdout)["address"] == address.stdout.strip()
    assert again.running


# ---- the store must be ours and writable -------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("what", ["file", "directory"])
def test_a_read_only_store_is_refused_at_start(pool: NodePool, what: str) -> None:
    node = pool.spawn("ro")
    assert node.stop() == 0
    db = node.data_dir / DB
    target = db if what == "file" else node.data_dir
    mode = target.stat().st_mode & 0o777
    target.chmod(0o444 if what == "file" else 0o555)
    try:
        # As root, only a process without the DAC-override capability honours file modes.
        result = start(pool, node.data_dir, plain_user=True)
    finally:
        target.chmod(mode)
    assert result.returncode == 1
    assert_one_clear_line(result.stderr, str(target))
    if what == "file":
        assert "read-only" in result.stderr


@pytest.mark.slow
def test_an_empty_store_in_a_used_directory_is_refused(pool: NodePool) -> None:
    used = pool.root / "used"
    new_wallet(pool, used)  # wallet.json and state.toml: this directory had a node
    (used / DB).write_bytes(b"")
    result = start(pool, used)
    assert result.returncode == 1
    assert_one_clear_line(result.stderr, str(used / DB), "empty", "move it aside to start over")
    assert (used / DB).read_bytes() == b""
    # The way out the message names: a chain file moved aside is a new chain, same wallet.
    (used / DB).rename(used / "chain.sqlite3.lost")
    node = pool.spawn("used")
    assert node.height() == 0
    assert node.stop() == 0


@pytest.mark.slow
def test_an_empty_store_in_a_fresh_directory_starts_a_new_chain(pool: NodePool) -> None:
    fresh = pool.root / "fresh"
    fresh.mkdir()
    (fresh / DB).write_bytes(b"")
    node = pool.spawn("fresh")
    assert node.height() == 0
    assert node.stop() == 0


def _other_apps_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT)")
    db.execute("INSERT INTO notes(text) VALUES ('keep me')")
    db.commit()
    db.close()


@pytest.mark.parametrize("kind", ["other-app", "not-sqlite"])
def test_a_foreign_store_is_refused_even_in_a_fresh_directory(
    pool: NodePool, kind: str
) -> None:
    d = pool.root / "foreign"
    d.mkdir()
    if kind == "other-app":
        _other_apps_database(d / DB)
    else:
        (d / DB).write_bytes(b"these are not the bytes of an SQLite database\n" * 100)
    before = (d / DB).read_bytes()
    result = start(pool, d)
    assert result.returncode == 1
    assert_one_clear_line(
        result.stderr, str(d / DB), "not a tuichain chain database", "move it aside to start over"
    )
    assert (d / DB).read_bytes() == before


# ---- the wallet file must be intact and private ------------------------------------


@pytest.mark.slow
def test_a_corrupt_wallet_stops_the_node_and_no_wallet_runs_without_it(
    pool: NodePool,
) -> None:
    d = pool.root / "cw"
    d.mkdir()
    wallet = d / "wallet.json"
    wallet.write_text('{"version": 1, "public_key": "ab')  # truncated
    wallet.chmod(0o600)
    before = wallet.read_bytes()
    for args in ([], ["--mine"]):
        result = start(pool, d, *args)
        assert result.returncode == 1
        assert_one_clear_line(result.stderr, str(wallet), "not valid JSON", "--no-wallet")
        assert "already exists" not in result.stderr
        assert wallet.read_bytes() == before
    node = pool.spawn("cw", "--no-wallet")
    assert "without a wallet" in node.stdout()
    assert node.stop() == 0
    assert wallet.read_bytes() == before


def test_mine_needs_a_wallet(pool: NodePool) -> None:
    result = start(pool, pool.root / "m", "--mine", "--no-wallet")
    assert result.returncode == 2
    assert_one_clear_line(result.stderr, "--mine", "--no-wallet")


def test_an_unreadable_wallet_stops_the_node(pool: NodePool) -> None:
    d = pool.root / "uw"
    wallet = new_wallet(pool, d)
    wallet.chmod(0o000)
    try:
        result = start(pool, d, plain_user=True)
    finally:
        wallet.chmod(0o600)
    assert result.returncode == 1
    assert_one_clear_line(result.stderr, f"cannot read wallet file {wallet}", "--no-wallet")


def test_a_wallet_others_can_read_is_refused_like_ssh_refuses_a_key(pool: NodePool) -> None:
    d = pool.root / "pw"
    wallet = new_wallet(pool, d)
    wallet.chmod(0o644)
    fix = f"chmod 600 {wallet}"
    result = start(pool, d)
    assert result.returncode == 1
    assert_one_clear_line(result.stderr, str(wallet), fix)
    address = pool.wallet("address", "--data-dir", str(d))
    assert address.returncode == 1
    assert_one_clear_line(address.stderr, fix)
    wallet.chmod(0o600)
    assert pool.wallet("address", "--data-dir", str(d)).returncode == 0
