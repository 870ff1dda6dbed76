"""A reorg left half-done by a stop is finished when the chain opens, exactly as a live one.

The state on disk is made by the real import: a ChainState whose switch to a
heavier branch dies the way a kill would (the switch's SQL transaction never
commits), after the branch's blocks were stored by their own transactions.
"""

from __future__ import annotations

from pathlib import Path

from tests.builders import genesis_link, key, make_block, pay
from tests.core.conftest import NewChainDb
from tuichain.core.block import Block
from tuichain.core.chainstate import ChainState, ImportResult
from tuichain.core.ledger import Ledger
from tuichain.core.params import REGTEST
from tuichain.core.store import HeaderEntry, Store, open_store
from tuichain.core.tx import Transaction

SENDER, RECIPIENT = key(1), key(2)
NOW = REGTEST.genesis_time + 10**6


class _Killed(BaseException):
    """What a SIGKILL does to the import: it never returns, nothing after it commits."""


class StopsBeforeSwitch(ChainState):
    armed = False

    def _switch(self, down: list[HeaderEntry], up: list[HeaderEntry],
                known_block: Block | None) -> tuple[list[Block], list[Block]]:
        if self.armed and down:  # a reorg, not a plain extension
            raise _Killed
        return super()._switch(down, up, known_block)


class StopsAfterSwitch(ChainState):
    """Killed once the switch committed, before the mempool was brought up to date."""

    armed = False

    def _update_mempool(self, result: ImportResult) -> None:
        if self.armed and result.disconnected:
            raise _Killed
        super()._update_mempool(result)


def _scenario() -> tuple[list[Block], Transaction, list[Block], list[Transaction]]:
    """(main blocks, a pending tx on top of them, the heavier side branch, all payments)."""
    b1 = make_block(REGTEST, genesis_link(), miner=SENDER.address_digest)
    to = RECIPIENT.address_digest
    tx1, tx2, tx3 = (pay(SENDER, to, 10**8 * (n + 1), n) for n in range(3))
    m2 = make_block(REGTEST, b1, [tx1, tx2])
    # The side branch confirms tx1 again, so only tx2 (and the pending tx3) may come back.
    s2 = make_block(REGTEST, b1, [tx1], memo=b"side")
    s3 = make_block(REGTEST, s2, memo=b"side")
    return [b1.block, m2.block], tx3, [s2.block, s3.block], [tx1, tx2, tx3]


def _build(db: str | Path, interrupt: bool) -> ChainState | None:
    """Main chain, a pending tx, then the heavier branch: switched live, or killed first."""
    main, pending, side, _ = _scenario()
    cs = StopsBeforeSwitch(open_store(db, REGTEST.name), REGTEST)
    for block in main:
        assert cs.process_block(block, now=NOW).status == "connected"
    cs.add_tx(pending, now=NOW)
    cs.armed = interrupt
    try:
        for block in side:
            cs.process_block(block, now=NOW)
    except _Killed:
        cs.store.close()
        return None
    assert not interrupt, "the branch never triggered a switch"
    return cs


def _persisted(store: Store) -> set[bytes]:
    return {Transaction.decode(raw).txid for raw, _ in store.mempool_all()}


def test_interrupted_reorg_returns_transactions_on_open(new_chain_db: NewChainDb) -> None:
    main, _, side, (tx1, tx2, tx3) = _scenario()
    live = _build(new_chain_db(), interrupt=False)
    assert live is not None
    assert live.tip.hash == side[-1].hash
    assert set(live.mempool.entries) == {tx2.txid, tx3.txid}

    db = new_chain_db()
    assert _build(db, interrupt=True) is None
    store = open_store(db, REGTEST.name)
    assert store.tip_hash() == main[-1].hash, "the stop must come before the switch"
    store.close()

    reopened = ChainState(open_store(db, REGTEST.name), REGTEST)
    try:
        assert reopened.tip.hash == side[-1].hash
        assert set(reopened.mempool.entries) == set(live.mempool.entries)
        assert _persisted(reopened.store) == _persisted(live.store) == {tx2.txid, tx3.txid}
        assert reopened.store.account(SENDER.address_digest) == \
            live.store.account(SENDER.address_digest)
        assert [b.hash for b in reopened.opened.disconnected] == [main[-1].hash]
        assert [b.hash for b in reopened.opened.connected] == [b.hash for b in side]
        assert set(reopened.opened.mempool_added) == {tx2.txid}
    finally:
        reopened.store.close()
        live.store.close()


async def test_ledger_open_after_interrupted_reorg(tmp_path: Path,
                                                  ledger_db: str | None) -> None:
    _, _, side, (_, tx2, tx3) = _scenario()
    assert _build(ledger_db or tmp_path / "chain.sqlite3", interrupt=True) is None
    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    try:
        assert ledger.tip is not None
        assert ledger.tip.hash == side[-1].hash
        assert {e.tx.txid for e in await ledger.mempool_entries()} == {tx2.txid, tx3.txid}
        assert ledger.mempool_size == 2
        assert ledger.opened.reorg
        assert await ledger.supply() == REGTEST.supply_at(ledger.tip.height)
    finally:
        await ledger.close()


def test_open_without_pending_switch_changes_nothing(chain_db: str | Path) -> None:
    cs = _build(chain_db, interrupt=False)
    assert cs is not None
    before = (cs.tip.hash, set(cs.mempool.entries))
    cs.store.close()
    again = ChainState(open_store(chain_db, REGTEST.name), REGTEST)
    try:
        assert (again.tip.hash, set(again.mempool.entries)) == before
        assert not again.opened.connected
        assert not again.opened.disconnected
    finally:
        again.store.close()


def test_a_kill_right_after_a_live_switch_loses_no_transaction(chain_db: str | Path) -> None:
    """The switch and the return of its transactions to the stored mempool commit together."""
    main, pending, side, (tx1, tx2, tx3) = _scenario()
    db = chain_db
    cs = StopsAfterSwitch(open_store(db, REGTEST.name), REGTEST)
    for block in main:
        assert cs.process_block(block, now=NOW).status == "connected"
    cs.add_tx(pending, now=NOW)
    cs.armed = True
    killed = False
    try:
        for block in side:
            cs.process_block(block, now=NOW)
    except _Killed:
        killed = True
    cs.store.close()
    assert killed, "the branch never triggered a switch"
    reopened = ChainState(open_store(db, REGTEST.name), REGTEST)
    try:
        assert reopened.tip.hash == side[-1].hash  # the switch itself had committed
        assert set(reopened.mempool.entries) == {tx2.txid, tx3.txid}
        assert _persisted(reopened.store) == {tx2.txid, tx3.txid}  # tx1 is confirmed again
    finally:
        reopened.store.close()
