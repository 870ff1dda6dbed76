"""Crash safety: an importing process SIGKILLed at random moments never leaves a torn chain,
on either store backend."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.builders import Link, accounts, extend, genesis_link, key, make_block, pay
from tests.core.conftest import NewChainDb
from tuichain.core.block import Block
from tuichain.core.chainstate import ChainState
from tuichain.core.errors import StoreError
from tuichain.core.params import REGTEST
from tuichain.core.pow import work_from_bits
from tuichain.core.store import HAVE_DATA, HeaderEntry, Store, open_store

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
target = sys.argv[2] if sys.argv[2].startswith("postgresql:") else Path(sys.argv[2])
cs = ChainState(open_store(target, "regtest"), REGTEST)
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


def _exists(db: str | Path) -> bool:
    """Whether the importer got as far as creating the chain (a killed start may not)."""
    if isinstance(db, Path):
        return db.exists()
    try:
        store: Store = open_store(db, REGTEST.name, readonly=True)
    except StoreError:
        return False
    store.close()
    return True


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


def _open(target: str | Path) -> ChainState:
    return ChainState(open_store(target, REGTEST.name), REGTEST)


def _reference(links: list[Link], path: Path) -> dict[bytes, dict[bytes, tuple[int, int]]]:
    """The account state after every tip the import passes through, from a clean run."""
    cs = _open(path)
    snaps = {cs.tip.hash: accounts(cs.store)}
    for link in links:
        res = cs.process_block(link.block, now=NOW)
        assert res.status in ("connected", "side-branch"), res.error
        snaps[cs.tip.hash] = accounts(cs.store)
    cs.store.close()
    return snaps


def _check(db: str | Path, snaps: dict[bytes, dict[bytes, tuple[int, int]]]) -> int:
    if isinstance(db, Path):
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()
    cs = _open(db)
    try:
        tip = cs.tip
        assert tip.hash in snaps, "tip is not a block the import ever committed"
        assert accounts(cs.store) == snaps[tip.hash]
        assert cs.store.total_balance() == REGTEST.supply_at(tip.height)
        assert cs.store.chain_hash(tip.height) == tip.hash
        rows = cs.store.chain_hashes(0, tip.height + 2)
        assert [h for h, _ in rows] == list(range(tip.height + 1))
        return tip.height
    finally:
        cs.store.close()


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path: Path, new_chain_db: NewChainDb) -> None:
    rng = random.Random(20261124)
    links = _chain(600, 6, rng)
    blob = tmp_path / "blocks.bin"
    blob.write_bytes(
        b"".join(len(x.block.encoded).to_bytes(4, "little") + x.block.encoded for x in links)
    )
    snaps = _reference(links, tmp_path / "reference.sqlite3")
    ref = _open(tmp_path / "reference.sqlite3")
    final_tip = ref.tip.hash
    ref.store.close()

    db = new_chain_db()
    script = tmp_path / "importer.py"
    script.write_text(IMPORTER)
    cmd = [sys.executable, str(script), str(blob), str(db), str(NOW)]
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
        if _exists(db):
            heights.append(_check(db, snaps))
        if proc.returncode == 0:
            # The import got to the end before the kill: start over to keep killing mid-way.
            db = new_chain_db()
            cmd[3] = str(db)
    assert kills >= 8, "the importer finished too early for the kills to mean anything"
    done = subprocess.run(cmd, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.split() == [b"ready", b"done"]
    _check(db, snaps)
    cs = _open(db)
    try:
        assert cs.tip.hash == final_tip
    finally:
        cs.store.close()
    # The kills landed at different points of the import, not all before it began.
    assert len(set(heights)) >= 4, heights


def test_block_stored_but_not_connected_is_connected_on_reopen(chain_db: str | Path) -> None:
    """A crash between storing a block's body and connecting it (two SQL transactions)."""
    db = chain_db
    cs = _open(db)
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

    cs = _open(db)
    try:
        assert cs.tip.hash == link.hash
        assert cs.store.account(KEYS[0].address_digest) == (REGTEST.subsidy(1), 0)
        # And a peer re-sending it is told it is a duplicate, with nothing left to do.
        assert cs.process_block(link.block, now=NOW).status == "duplicate"
        assert Block.decode(cs.store.get_block_data(link.hash) or b"").hash == link.hash
    finally:
        cs.store.close()
