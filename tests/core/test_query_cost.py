"""SQLite statements touch the rows they need, not every row of a long chain.

Measured in SQLite's own virtual-machine instructions (a progress handler counts
them), which do not depend on the machine's speed: disconnecting the tip block of a
long chain of payments must cost about what the same block costs on a short one,
and listing many side branches must not read the active chain once for each; a
sync's download round must not read every header still without its body, nor walk
all of them again each time a batch of headers moves the best header up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.builders import (
    extend,
    fork,
    funded,
    genesis_link,
    import_all,
    key,
    open_chain,
    paid_line,
)
from tuichain.core import chainstate
from tuichain.core.params import REGTEST
from tuichain.core.store.sqlite import SqliteStore
from tuichain.core.validation import block_addresses

PAYERS = [key(i) for i in (1, 2, 3)]
PAYEE = key(9).address_digest
PER_BLOCK = 30
STEP = 100  # instructions a progress call


def _disconnect_cost(where: Path, paid_blocks: int) -> int:
    """SQLite instructions (in units of STEP) to disconnect the tip of a chain of
    `paid_blocks` blocks of PER_BLOCK payments."""
    prefix = funded(PAYERS)
    line = paid_line(REGTEST, prefix[-1], paid_blocks, PAYERS, {}, PER_BLOCK, to=PAYEE)
    chain = open_chain(where)
    try:
        import_all(chain, prefix + line)
        store = chain.store
        assert isinstance(store, SqliteStore)
        db: sqlite3.Connection = store.db
        tip = store.get_header(line[-1].hash)
        assert tip is not None
        block = line[-1].block
        with counted(db) as calls, store.transaction():
            store.disconnect(tip, block.txids, block_addresses(block))
        left = db.execute("SELECT count(*) FROM history WHERE height=?", (tip.height,))
        assert left.fetchone()[0] == 0, "the tip's history rows outlived it"
        # One row an account, each holding its positions (four bytes each) in the block.
        below = db.execute("SELECT sum(length(positions)) / 4 FROM history WHERE height=?",
                           (tip.height - 1,))
        assert below.fetchone()[0] == 2 * PER_BLOCK + 1, "rows below the tip went too"
        return calls()
    finally:
        chain.store.close()


@contextmanager
def counted(db: sqlite3.Connection) -> Iterator[Callable[[], int]]:
    """The instructions `db` runs inside the block, in units of STEP."""
    calls = 0

    def count() -> int:
        nonlocal calls
        calls += 1
        return 0

    db.set_progress_handler(count, STEP)
    try:
        yield lambda: calls
    finally:
        db.set_progress_handler(None, 0)


def test_disconnecting_the_tip_does_not_scan_the_whole_history(tmp_path: Path) -> None:
    short = _disconnect_cost(tmp_path / "short", 2)
    long = _disconnect_cost(tmp_path / "long", 40)
    # A scan of the history table grows with the chain (20 times the rows here).
    assert long < 2 * short, f"tip of 2 blocks: {short * STEP}, of 40: {long * STEP} instructions"


def _branch_tips_cost(where: Path, sides: int) -> int:
    """Instructions (in units of STEP) to list the branch tips of a 60-block chain with
    `sides` one-block side branches off it."""
    line = extend(REGTEST, genesis_link(), 60)
    branches = [fork(REGTEST, line[10 + i], 1, tag=b"side-%d" % i)[0] for i in range(sides)]
    chain = open_chain(where)
    try:
        import_all(chain, line + branches)
        store = chain.store
        assert isinstance(store, SqliteStore)
        with counted(store.db) as calls:
            tips = store.branch_tips(50)
        assert set(tips) == {b.hash for b in branches}
        return calls()
    finally:
        chain.store.close()


def test_side_branch_tips_do_not_each_read_the_whole_chain(tmp_path: Path) -> None:
    one = _branch_tips_cost(tmp_path / "one", 1)
    many = _branch_tips_cost(tmp_path / "many", 20)
    # Reading the chain table once for each tip grows with tips times chain length.
    assert many < 3 * one, f"1 side tip: {one * STEP}, 20: {many * STEP} instructions"


def _fetchable_cost(where: Path, ahead: int) -> int:
    """Instructions (in units of STEP) for one download round's look at the headers
    just above the tip, with `ahead` headers of the best chain stored without bodies
    (a sync that has its headers and fetches the bodies)."""
    base = extend(REGTEST, genesis_link(), 3)
    line = extend(REGTEST, base[-1], ahead, tag=b"ahead")
    chain = open_chain(where)
    try:
        import_all(chain, base)
        now = line[-1].time + 3600
        assert chain.process_headers([link.header for link in line], now=now).error is None
        store = chain.store
        assert isinstance(store, SqliteStore)
        in_flight = {link.hash for link in line[1:33]}  # bodies asked for already
        with counted(store.db) as calls:
            wanted = chain.missing_blocks(64, skip=in_flight)
        # The next bodies on the way, and none already asked for.
        assert wanted[0] == line[0].hash
        assert wanted == [link.hash for link in line[:1] + line[33:96]]
        return calls()
    finally:
        chain.store.close()


def test_a_download_round_does_not_read_every_header_without_a_body(
        tmp_path: Path) -> None:
    short = _fetchable_cost(tmp_path / "short", 300)
    long = _fetchable_cost(tmp_path / "long", 3_000)
    # Every header-only header was read to find the few whose parent has its body.
    assert long < 2 * short, (
        f"300 headers ahead: {short * STEP}, 3,000: {long * STEP} instructions")


def test_a_new_best_header_does_not_walk_the_whole_path_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Headers come in batches (2,000 a message); each batch's last header is the new
    # best, and the bodies to fetch lead up to it. The path to the last best header
    # is known: only the new batch needs reading. A small header cache, so the
    # headers not in it are read from the file, as in a long sync.
    monkeypatch.setattr(chainstate, "HEADER_CACHE", 200)
    base = extend(REGTEST, genesis_link(), 3)
    line = extend(REGTEST, base[-1], 3_000, tag=b"ahead")
    chain = open_chain(tmp_path)
    try:
        import_all(chain, base)
        store = chain.store
        assert isinstance(store, SqliteStore)
        now = line[-1].time + 3600
        costs = []
        for start in range(0, len(line), 300):
            batch = line[start:start + 300]
            assert chain.process_headers([link.header for link in batch], now=now).error is None
            with counted(store.db) as calls:
                wanted = chain.missing_blocks(64, toward=batch[-1].hash)
            assert wanted == [link.hash for link in line[:64]]
            costs.append(calls())
    finally:
        chain.store.close()
    # Walked afresh, the path grows by 300 headers a batch: the tenth costs ten times
    # the first.
    assert costs[-1] < 2 * costs[0], f"instructions a round, batch by batch: {costs}"
