"""The async Ledger over a real SQLite file or PostgreSQL schema: restart, indexed reads,
txindex and history through reorgs, headers first, events."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from tests.builders import (
    Link,
    extend,
    fork,
    genesis_link,
    import_all,
    key,
    make_block,
    open_chain,
    pay,
)
from tuichain.core.block import Block
from tuichain.core.errors import StoreError
from tuichain.core.events import NewTip, Reorg
from tuichain.core.ledger import Ledger
from tuichain.core.merkle import verify_proof
from tuichain.core.params import COIN, REGTEST
from tuichain.core.store.sqlite import SqliteStore

ALICE, BOB = key(1), key(2)
DAVE = key(4).address_digest


async def _submit(ledger: Ledger, links: list[Link]) -> None:
    for link in links:
        res = await ledger.submit_block(link.block)
        assert res.status in ("connected", "side-branch"), (res.status, res.error)


async def test_restart_resumes_at_committed_tip(tmp_path: Path, ledger_db: str | None) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    links = extend(REGTEST, genesis_link(), 5)
    await _submit(ledger, links)
    side = fork(REGTEST, links[2], 1)
    await _submit(ledger, side)
    assert ledger.tip is not None
    tip = ledger.tip
    await ledger.close()

    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    try:
        assert ledger.tip == tip
        assert ledger.tip.hash == links[-1].hash
        assert await ledger.hash_at(5) == links[-1].hash
        # The side block is still known after the restart.
        assert await ledger.header_known(side[0].hash)
        more = extend(REGTEST, links[-1], 1)
        await _submit(ledger, more)
        assert ledger.tip.height == 6
    finally:
        await ledger.close()


async def test_wrong_network_data_dir_is_refused(tmp_path: Path, ledger_db: str | None) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    await ledger.close()
    other = dataclasses.replace(REGTEST, name="regtest-other")
    with pytest.raises(StoreError) as info:
        await Ledger.open(tmp_path, other, database=ledger_db)
    assert info.value.code == "wrong-network"


def test_balance_and_nonce_reads_use_the_primary_key(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        for sql in (
            "SELECT balance, nonce FROM accounts WHERE address=?",
            "SELECT hash FROM chain WHERE height=?",
            "SELECT c.hash, t.pos FROM txindex t JOIN chain c ON c.height = t.height "
            "WHERE t.display_txid=?",
        ):
            plan = " ".join(
                str(r[-1]) for r in store.db.execute("EXPLAIN QUERY PLAN " + sql, (b"x",))
            )
            assert "USING PRIMARY KEY" in plan or "USING INTEGER PRIMARY KEY" in plan, plan
            assert "SCAN" not in plan, plan
        plan = " ".join(
            str(r[-1])
            for r in store.db.execute(
                "EXPLAIN QUERY PLAN SELECT height, positions FROM history WHERE address=? AND "
                "height<? ORDER BY height DESC LIMIT ?",
                (b"x", 1, 1),
            )
        )
        assert "USING PRIMARY KEY" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    finally:
        store.close()


async def test_txindex_and_history_follow_reorgs(tmp_path: Path, ledger_db: str | None) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    try:
        funded = make_block(REGTEST, genesis_link(), miner=ALICE.address_digest)
        await _submit(ledger, [funded])
        a0 = pay(ALICE, DAVE, COIN, 0)
        a1 = pay(ALICE, BOB.address_digest, 2 * COIN, 1)
        main = make_block(REGTEST, funded, [a0, a1])
        await _submit(ledger, [main])

        info = await ledger.tx_info(a1.txid)
        assert info is not None
        assert (info.block_hash, info.height, info.position) == (main.hash, 2, 2)
        assert info.confirmations == 1
        assert info.merkle_root is not None
        assert verify_proof(a1.txid, 2, info.proof, info.merkle_root)
        hist = await ledger.history(ALICE.address_digest)
        assert [(h.height, h.position) for h in hist] == [(2, 2), (2, 1), (1, 0)]
        # Both payments are in one row of Alice's (one an account and height): a limit
        # inside it still gives the newest first, each with its own txid.
        newest = await ledger.history(ALICE.address_digest, limit=2)
        assert [(h.height, h.position, h.txid) for h in newest] == [
            (2, 2, a1.txid), (2, 1, a0.txid)]
        assert [h.txid for h in await ledger.history(DAVE)] == [a0.txid]

        # A heavier fork confirms only a0, one block later.
        f1 = make_block(REGTEST, funded, memo=b"f")
        f2 = make_block(REGTEST, f1, [a0], memo=b"f")
        await _submit(ledger, [f1])
        res = await ledger.submit_block(f2.block)
        assert res.reorg
        assert res.status == "connected"

        info = await ledger.tx_info(a0.txid)
        assert info is not None
        assert (info.block_hash, info.height, info.position) == (f2.hash, 3, 1)
        assert not info.in_mempool
        # a1's block left the chain: the tx is back in the mempool, not in the index.
        info = await ledger.tx_info(a1.txid)
        assert info is not None
        assert info.in_mempool
        assert info.block_hash is None
        assert [(h.height, h.txid) for h in await ledger.history(ALICE.address_digest)] == [
            (3, a0.txid),
            (1, funded.block.txs[0].txid),
        ]
        assert await ledger.history(BOB.address_digest) == []
        assert [h.txid for h in await ledger.history(DAVE)] == [a0.txid]
        assert await ledger.tx_info(main.block.txs[0].txid) is None
        # Paging: before_height excludes the newest.
        older = await ledger.history(ALICE.address_digest, before_height=3)
        assert [h.height for h in older] == [1]

        acct = await ledger.account(ALICE.address_digest)
        assert acct.nonce == 1
        assert acct.next_nonce == 2
        assert acct.balance == REGTEST.subsidy(1) - COIN - a0.fee
        assert acct.available == acct.balance - 2 * COIN - a1.fee
        assert await ledger.supply() == REGTEST.supply_at(3)
        branches = await ledger.side_branches()
        assert [(e.hash, h) for e, h in branches] == [(main.hash, 1)]
    finally:
        await ledger.close()


async def test_events_on_new_tip_and_reorg(tmp_path: Path, ledger_db: str | None) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    seen: list[object] = []
    ledger.events.subscribe(seen.append)
    try:
        links = extend(REGTEST, genesis_link(), 2)
        await _submit(ledger, links)
        assert [type(e) for e in seen] == [NewTip, NewTip]
        seen.clear()
        side = fork(REGTEST, links[0], 2)
        await _submit(ledger, side)
        reorgs = [e for e in seen if isinstance(e, Reorg)]
        assert len(reorgs) == 1
        assert reorgs[0].disconnected == (links[1].hash,)
        assert reorgs[0].connected == (side[0].hash, side[1].hash)
        assert reorgs[0].fork_height == 1
        assert isinstance(seen[-1], NewTip)
        assert seen[-1].hash == side[1].hash
    finally:
        await ledger.close()


async def test_events_stay_true_when_submissions_overlap(tmp_path: Path,
                                                        ledger_db: str | None) -> None:
    """Blocks from several peers are submitted at once; each submission's events must
    describe its own step, not the tip as it was before all of them were queued."""
    import asyncio

    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    seen: list[object] = []
    ledger.events.subscribe(seen.append)
    try:
        main = extend(REGTEST, genesis_link(), 2)
        side = fork(REGTEST, genesis_link(), 3)
        await asyncio.gather(*(ledger.submit_block(x.block) for x in [*main, *side]))
        reorgs = [e for e in seen if isinstance(e, Reorg)]
        assert len(reorgs) == 1
        assert reorgs[0].old_tip == main[1].hash
        assert reorgs[0].new_tip == side[2].hash
        tips = [e.hash for e in seen if isinstance(e, NewTip)]
        assert tips == [main[0].hash, main[1].hash, side[2].hash]
    finally:
        await ledger.close()


async def test_an_invalid_orphan_is_reported_once(tmp_path: Path, ledger_db: str | None) -> None:
    from tuichain.core.events import BlockRejected

    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    seen: list[BlockRejected] = []
    ledger.events.subscribe(lambda e: seen.append(e) if isinstance(e, BlockRejected) else None)
    try:
        parent = extend(REGTEST, genesis_link(), 1)[0]
        bad = make_block(REGTEST, parent, coinbase_amount=REGTEST.subsidy(2) + 1)
        assert (await ledger.submit_block(bad.block)).status == "orphan"
        result = await ledger.submit_block(parent.block)
        assert result.status == "connected"
        assert result.rejected == [(bad.hash, result.rejected[0][1])]
        assert [(e.hash, e.code) for e in seen] == [(bad.hash, "bad-coinbase-amount")]
    finally:
        await ledger.close()


async def test_headers_first_then_bodies(tmp_path: Path, ledger_db: str | None) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    try:
        links = extend(REGTEST, genesis_link(), 6)
        res = await ledger.submit_headers([link.header for link in links])
        assert res.error is None
        assert len(res.accepted) == 6
        want = [link.hash for link in links]
        assert await ledger.missing_blocks(100) == want
        assert await ledger.missing_blocks(2) == want[:2]
        # Bodies out of order: the later ones wait as orphans, then all connect.
        for link in reversed(links):
            await ledger.submit_block(link.block)
        assert ledger.tip is not None
        assert ledger.tip.hash == links[-1].hash
        assert await ledger.missing_blocks(100) == []
        again = await ledger.submit_headers([links[0].header])
        assert again.known == 1
        assert again.accepted == []
    finally:
        await ledger.close()


async def test_locator_and_headers_after(tmp_path: Path, ledger_db: str | None) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    try:
        links = extend(REGTEST, genesis_link(), 30)
        await _submit(ledger, links)
        loc = await ledger.locator()
        assert loc[0] == links[-1].hash
        assert loc[-1] == genesis_link().hash
        assert len(loc) < 20
        got = await ledger.header_bytes_after_locator([links[9].hash], None, 5)
        assert got == [link.header.encoded for link in links[10:15]]
        to_stop = await ledger.header_bytes_after_locator([links[9].hash], links[12].hash, 2000)
        assert to_stop == [link.header.encoded for link in links[10:13]]
        unknown = await ledger.header_bytes_after_locator([bytes(32)], None, 3)
        assert unknown == [link.header.encoded for link in links[:3]]  # from genesis
        block = await ledger.get_block(links[3].hash)
        assert isinstance(block, Block)
        assert block.hash == links[3].hash
    finally:
        await ledger.close()


async def test_the_locator_leads_with_the_best_header_when_headers_run_ahead(
        tmp_path: Path, ledger_db: str | None) -> None:
    # A sync's headers run ahead of its blocks: a getheaders from the tip would be
    # answered with every header after the tip again, 2,000 a message.
    ledger = await Ledger.open(tmp_path, REGTEST, database=ledger_db)
    try:
        links = extend(REGTEST, genesis_link(), 40)
        await _submit(ledger, links[:10])
        assert (await ledger.submit_headers([link.header for link in links])).error is None
        loc = await ledger.locator()
        assert loc[0] == links[-1].hash  # the best header, then the tip's own locator
        assert loc[1] == links[9].hash
        assert loc[-1] == genesis_link().hash
        # Its bodies all in: the tip is the best header, named once.
        await _submit(ledger, links[10:])
        loc = await ledger.locator()
        assert loc[0] == links[-1].hash
        assert loc[1] == links[-2].hash
    finally:
        await ledger.close()


def test_database_is_one_wal_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    store.close()
    db = sqlite3.connect(tmp_path / "s.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_withheld_heavier_headers_do_not_stop_honest_blocks_being_fetched(
    chain_db: str | Path,
) -> None:
    cs = open_chain(chain_db)
    base = extend(REGTEST, genesis_link(), 3)
    import_all(cs, base)
    # A peer announces a heavier branch off the tip but never sends its bodies...
    heavy = fork(REGTEST, base[-1], 5, tag=b"withheld")
    now = heavy[-1].time
    assert cs.process_headers([link.block.header for link in heavy], now=now).error is None
    # ...and an honest peer announces the next block on the tip.
    honest = make_block(REGTEST, base[-1], memo=b"honest")
    assert cs.process_headers([honest.block.header], now=now).error is None
    wanted = cs.missing_blocks(64)
    assert heavy[0].hash in wanted
    assert honest.hash in wanted, "the honest next block must be fetchable"
    # Once its body arrives it becomes the tip, withheld branch or not.
    assert cs.process_block(honest.block, now=now).status == "connected"
    assert cs.tip.hash == honest.hash
