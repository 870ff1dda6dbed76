"""Crash safety: an importing process SIGKILLed at random moments never leaves a torn chain,
on SQLite and on PostgreSQL (a throwaway server, tests/pgcluster.py)."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.builders import Link, extend, genesis_link, key, make_block, pay
from tuichain.core.block import Block
from tuichain.core.chainstate import ChainState
from tuichain.core.params import REGTEST
from tuichain.core.pow import work_from_bits
from tuichain.core.store import HAVE_DATA, HeaderEntry, Store, is_url, open_store
from tuichain.core.store.postgres import split_url

KEYS = [key(n) for n in range(1, 5)]
NOW = REGTEST.genesis_time + 10**8

IMPORTER = """
import sys
from pathlib import Path
from tuichain.core.block import Block
from tuichain.core.chainstate import ChainState
from tuichain.core.params import REGTEST
from tuichain.core.store import open_store

data = Path(sys.argv[1]).read_bytes()
cs = ChainState(open_store(sys.argv[2], REGTEST.name), REGTEST)
print("ready", flush=True)
pos = 0
while pos < len(data):
    size = int.from_bytes(data[pos:pos + 4], "little")
    block = Block.decode(data[pos + 4:pos + 4 + size])
    pos += 4 + size
    res = cs.process_block(block, now=int(sys.argv[3]))
    if res.status not in ("connected", "side-branch", "duplicate"):
        sys.exit(f"unexpected {res.status} {res.error}")
cs.store.close()
print("done")
"""


def _chain(blocks: int, txs_per_block: int, rng: random.Random) -> list[Link]:
    """A main line with payments, a side branch that overtakes it midway (a reorg)."""
    links: list[Link] = []
    parent = genesis_link()
    state: dict[int, tuple[int, int]] = {i: (0, 0) for i in range(len(KEYS))}
    for h in range(1, blocks + 1):
        txs = []
        for _ in range(txs_per_block if h > len(KEYS) else 0):
            s, r = rng.randrange(len(KEYS)), rng.randrange(len(KEYS))
            bal, nonce = state[s]
            amount = bal // rng.randint(3, 20)
            if amount < 1:
                continue
            txs.append(pay(KEYS[s], KEYS[r].address_digest, amount, nonce, fee=100))
            state[s] = (bal - amount - 100, nonce + 1)
            rb, rn = state[r]
            state[r] = (rb + amount, rn)
        miner = (h - 1) % len(KEYS)
        parent = make_block(REGTEST, parent, txs, miner=KEYS[miner].address_digest)
        mb, mn = state[miner]
        state[miner] = (mb + REGTEST.subsidy(h) + 100 * len(txs), mn)
        links.append(parent)
    # A side branch off the middle, submitted after the main line: it wins at the end.
    mid = links[blocks // 2]
    side = extend(REGTEST, mid, blocks - blocks // 2 + 1, tag=b"side")
    return links + side


def _accounts(store: Store) -> dict[bytes, tuple[int, int]]:
    return {address: (balance, nonce) for address, balance, nonce in store.account_rows()}


def _reference(links: list[Link], path: Path) -> dict[bytes, dict[bytes, tuple[int, int]]]:
    """The account state after every tip the import passes through, from a clean run
    (on SQLite for both backends: a PostgreSQL chain must match it too)."""
    cs = ChainState(open_store(path, REGTEST.name), REGTEST)
    snaps = {cs.tip.hash: _accounts(cs.store)}
    for link in links:
        res = cs.process_block(link.block, now=NOW)
        assert res.status in ("connected", "side-branch"), res.error
        snaps[cs.tip.hash] = _accounts(cs.store)
    cs.store.close()
    return snaps


class Target:
    """Where the importer writes: an SQLite file, or a PostgreSQL database."""

    def __init__(self, where: str) -> None:
        self.where = where

    def exists(self) -> bool:
        if not is_url(self.where):
            return Path(self.where).exists()
        conninfo, schema = split_url(self.where, REGTEST.name)
        with psycopg.connect(conninfo) as conn:
            row = conn.execute("SELECT to_regclass(%s)", (f"{schema}.chain",)).fetchone()
            return row is not None and row[0] is not None

    def released(self) -> None:
        """Wait until the server has seen the killed importer go: its session (and so
        the advisory lock on the chain schema) outlives the process for a moment."""
        if not is_url(self.where):
            return
        conninfo, _ = split_url(self.where, REGTEST.name)
        deadline = time.monotonic() + 60
        with psycopg.connect(conninfo, autocommit=True) as conn:
            while True:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'tuichain' AND pid <> pg_backend_pid()"
                ).fetchone()
                if row == (0,):
                    return
                assert time.monotonic() < deadline, "the killed importer's session never ended"
                time.sleep(0.05)

    def integrity(self) -> None:
        if is_url(self.where):
            return  # The server's own recovery; the client's death cannot tear its pages.
        conn = sqlite3.connect(self.where)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()

    def remove(self) -> None:
        if not is_url(self.where):
            for f in Path(self.where).parent.iterdir():
                f.unlink()
            return
        conninfo, schema = split_url(self.where, REGTEST.name)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _check(target: Target, snaps: dict[bytes, dict[bytes, tuple[int, int]]]) -> int:
    target.released()
    target.integrity()
    cs = ChainState(open_store(target.where, REGTEST.name), REGTEST)
    try:
        tip = cs.tip
        assert tip.hash in snaps, "tip is not a block the import ever committed"
        assert _accounts(cs.store) == snaps[tip.hash]
        assert cs.store.total_balance() == REGTEST.supply_at(tip.height)
        assert cs.store.chain_hash(tip.height) == tip.hash
        rows = cs.store.chain_hashes(0, tip.height + 10)
        assert [h for h, _ in rows] == list(range(tip.height + 1))
        return tip.height
    finally:
        cs.store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "sqlite":
        db = tmp_path / "data" / "chain.sqlite3"
        db.parent.mkdir()
        return Target(str(db))
    return Target(request.getfixturevalue("pg_dsn"))


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path: Path, target: Target) -> None:
    rng = random.Random(20261124)
    links = _chain(600, 6, rng)
    blob = tmp_path / "blocks.bin"
    blob.write_bytes(
        b"".join(len(x.block.encoded).to_bytes(4, "little") + x.block.encoded for x in links)
    )
    snaps = _reference(links, tmp_path / "reference.sqlite3")
    ref = ChainState(open_store(tmp_path / "reference.sqlite3", REGTEST.name), REGTEST)
    final_tip = ref.tip.hash
    ref.store.close()

    script = tmp_path / "importer.py"
    script.write_text(IMPORTER)
    cmd = [sys.executable, str(script), str(blob), target.where, str(NOW)]
    kills = 0
    heights = []
    for _ in range(40):  # a bound, in case the machine is so fast that kills keep missing
        if kills >= 12:
            break
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Kill during the import, not during interpreter start-up, which a loaded
        # machine can stretch past any fixed delay: the importer says when it begins.
        assert proc.stdout is not None
        proc.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        _, err = proc.communicate()
        assert proc.returncode in (0, -signal.SIGKILL), err.decode()
        if target.exists():
            heights.append(_check(target, snaps))
        if proc.returncode == 0:
            # The import got to the end before the kill: start over to keep killing mid-way.
            target.remove()
    assert kills >= 8, "the importer finished too early for the kills to mean anything"
    done = subprocess.run(cmd, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.split() == [b"ready", b"done"]
    _check(target, snaps)
    cs = ChainState(open_store(target.where, REGTEST.name), REGTEST)
    try:
        assert cs.tip.hash == final_tip
    finally:
        cs.store.close()
    # The kills landed at different points of the import, not all before it began.
    assert len(set(heights)) >= 4, heights


def test_block_stored_but_not_connected_is_connected_on_reopen(target: Target) -> None:
    """A crash between storing a block's body and connecting it (two SQL transactions)."""
    cs = ChainState(open_store(target.where, REGTEST.name), REGTEST)
    link = make_block(REGTEST, genesis_link(), miner=KEYS[0].address_digest)
    # What _process_one commits first, before the connect transaction.
    entry = HeaderEntry(
        link.hash,
        link.header.prev_hash,
        1,
        cs.tip.chainwork + work_from_bits(link.bits),
        link.header,
        HAVE_DATA,
    )
    with cs.store.transaction():
        cs.store.put_header(entry)
        cs.store.put_block(link.hash, link.block.encoded)
    cs.store.close()

    cs = ChainState(open_store(target.where, REGTEST.name), REGTEST)
    try:
        assert cs.tip.hash == link.hash
        assert cs.store.account(KEYS[0].address_digest) == (REGTEST.subsidy(1), 0)
        # And a peer re-sending it is told it is a duplicate, with nothing left to do.
        assert cs.process_block(link.block, now=NOW).status == "duplicate"
        assert Block.decode(cs.store.get_block_data(link.hash) or b"").hash == link.hash
    finally:
        cs.store.close()
