"""Disconnecting a block touches that block's rows, not every row of a long chain.

Measured in SQLite's own virtual-machine instructions (a progress handler counts
them), which do not depend on the machine's speed: the tip block of a long chain
of payments must cost about what the same block costs on a short one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.builders import Link, extend, genesis_link, import_all, key, open_chain, paid_line
from tuichain.core.params import REGTEST
from tuichain.core.store.sqlite import SqliteStore
from tuichain.core.validation import block_addresses

PAYERS = [key(i) for i in (1, 2, 3)]
PAYEE = key(9).address_digest
PER_BLOCK = 30
STEP = 100  # instructions a progress call


def _funded() -> list[Link]:
    links: list[Link] = []
    tip = genesis_link()
    for payer in PAYERS:
        links += extend(REGTEST, tip, 1, miner=payer.address_digest)
        tip = links[-1]
    return links


def _disconnect_cost(where: Path, paid_blocks: int) -> int:
    """SQLite instructions (in units of STEP) to disconnect the tip of a chain of
    `paid_blocks` blocks of PER_BLOCK payments."""
    prefix = _funded()
    line = paid_line(REGTEST, prefix[-1], paid_blocks, PAYERS, {}, PER_BLOCK, to=PAYEE)
    chain = open_chain(where)
    try:
        import_all(chain, prefix + line)
        store = chain.store
        assert isinstance(store, SqliteStore)
        db: sqlite3.Connection = store.db
        tip = store.get_header(line[-1].hash)
        block = line[-1].block
        assert tip is not None
        calls = 0

        def count() -> int:
            nonlocal calls
            calls += 1
            return 0

        db.set_progress_handler(count, STEP)
        try:
            with store.transaction():
                store.disconnect(tip, block.txids, block_addresses(block))
        finally:
            db.set_progress_handler(None, 0)
        left = db.execute("SELECT count(*) FROM history WHERE height=?", (tip.height,))
        assert left.fetchone()[0] == 0, "the tip's history rows outlived it"
        below = db.execute("SELECT count(*) FROM history WHERE height=?", (tip.height - 1,))
        assert below.fetchone()[0] == 2 * PER_BLOCK + 1, "rows below the tip went too"
        return calls
    finally:
        chain.store.close()


def test_disconnecting_the_tip_does_not_scan_the_whole_history(tmp_path: Path) -> None:
    short = _disconnect_cost(tmp_path / "short", 2)
    long = _disconnect_cost(tmp_path / "long", 40)
    # A scan of the history table grows with the chain (20 times the rows here).
    assert long < 2 * short, f"tip of 2 blocks: {short * STEP}, of 40: {long * STEP} instructions"
