"""Blocks imported in batches (one SQL transaction each, as while catching up) leave
exactly the state one-by-one import leaves, and a kill inside a batch loses that batch
only, on either store backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import (
    Link,
    accounts,
    extend,
    fork,
    genesis_link,
    import_all,
    key,
    make_block,
    open_chain,
    paid_line,
    pay,
)
from tests.core.conftest import NewChainDb
from tuichain.core.block import Block
from tuichain.core.chainstate import ChainState
from tuichain.core.params import REGTEST

PAYER, PAYEE, BROKE = key(1), key(2), key(3)
NOW = REGTEST.genesis_time + 10**8


def _blocks() -> list[Block]:
    """Payments, an orphan filled later, a duplicate, a reorg that fails midway, a
    block that fails on connect (an overspend) with a child, and a heavier branch
    that reorgs the payments away."""
    funded = extend(REGTEST, genesis_link(), 4, miner=PAYER.address_digest)
    paid = paid_line(REGTEST, funded[-1], 5, [PAYER], {}, 3, to=PAYEE.address_digest)
    overspend = make_block(REGTEST, paid[-1], [pay(BROKE, PAYEE.address_digest, 10**9, 0)])
    after_bad = make_block(REGTEST, overspend)
    # A heavier branch that fails on its third block: the reorg to it is undone midway.
    doomed = fork(REGTEST, paid[1], 2, tag=b"doomed")
    doomed.append(make_block(REGTEST, doomed[-1],
                             [pay(BROKE, PAYEE.address_digest, 10**9, 0)]))
    doomed.append(make_block(REGTEST, doomed[-1]))
    side = fork(REGTEST, paid[1], 6)
    order: list[Link] = [*funded, paid[0], paid[2], paid[1], *paid[3:], funded[0],
                         *doomed, overspend, after_bad, *side]
    return [link.block for link in order]


def _state(chain: ChainState, blocks: list[Block]) -> object:
    store = chain.store
    return (
        chain.tip.hash,
        accounts(store),
        store.chain_hashes(0, chain.tip.height + 2),
        {b.hash: (e.status, e.height, e.chainwork) if (e := store.get_header(b.hash)) else None
         for b in blocks},
        sorted(chain.mempool.entries),
        sorted(raw for raw, _ in store.mempool_all()),
        [store.tx_location(tx.txid) for b in blocks for tx in b.txs],
    )


@pytest.mark.parametrize("size", [3, 64])
def test_batches_leave_the_state_of_one_by_one_import(new_chain_db: NewChainDb,
                                                      size: int) -> None:
    blocks = _blocks()
    single = open_chain(new_chain_db())
    batched = open_chain(new_chain_db())
    try:
        one_by_one = [single.process_block(b, now=NOW) for b in blocks]
        together = []
        for start in range(0, len(blocks), size):
            part = [(b, True, None) for b in blocks[start:start + size]]
            done = batched.process_blocks(part, now=NOW)
            assert len(done) == len(part)
            together += [res for res, _ in done]
        assert [(r.status, r.error and r.error.code) for r in together] == [
            (r.status, r.error and r.error.code) for r in one_by_one]
        assert "invalid" in [r.status for r in one_by_one]  # the batch had a failure inside
        assert any(r.reorg for r in one_by_one)
        assert [[b.hash for b in r.connected] for r in together] == [
            [b.hash for b in r.connected] for r in one_by_one]
        assert _state(batched, blocks) == _state(single, blocks)
    finally:
        single.store.close()
        batched.store.close()


def test_a_time_budget_cuts_the_batch_after_a_block(chain_db: str | Path) -> None:
    blocks = [link.block for link in extend(REGTEST, genesis_link(), 5)]
    chain = open_chain(chain_db)
    try:
        done = chain.process_blocks([(b, True, None) for b in blocks], now=NOW, budget=0)
        assert [res.status for res, _ in done] == ["connected"]
        assert done[0][1].hash == chain.tip.hash == blocks[0].hash
    finally:
        chain.store.close()


# Imports the blocks in `argv[1]` in batches of `argv[4]`, and SIGKILLs itself when
# about to connect block number `argv[5]` (counted from 1; 0: never).
IMPORTER = """
import os, signal, sys
from pathlib import Path
from tuichain.core.block import Block
from tuichain.core.blockrun import BlockRun
from tuichain.core.chainstate import ChainState
from tuichain.core.params import REGTEST
from tuichain.core.store import open_store

data = Path(sys.argv[1]).read_bytes()
target = sys.argv[2] if sys.argv[2].startswith("postgresql:") else Path(sys.argv[2])
size, kill_at = int(sys.argv[4]), int(sys.argv[5])
cs = ChainState(open_store(target, "regtest"), REGTEST)
connects = 0

def or_die(connect):
    # A block connects one by one (_connect_rows) or as part of a run (BlockRun.add).
    def connect_or_die(self, *args, **kwargs):
        global connects
        connects += 1
        if connects == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        connect(self, *args, **kwargs)
    return connect_or_die

ChainState._connect_rows = or_die(ChainState._connect_rows)
BlockRun.add = or_die(BlockRun.add)
blocks, pos = [], 0
while pos < len(data):
    n = int.from_bytes(data[pos:pos + 4], "little")
    blocks.append((Block.decode(data[pos + 4:pos + 4 + n]), True, None))
    pos += 4 + n
for start in range(0, len(blocks), size):
    for res, _ in cs.process_blocks(blocks[start:start + size], now=int(sys.argv[3])):
        if res.status not in ("connected", "duplicate"):
            sys.exit(f"unexpected {res.status} {res.error}")
cs.store.close()
"""


def _import(path: Path, db: str | Path, size: int, kill_at: int) -> int:
    proc = subprocess.run([sys.executable, "-c", IMPORTER, str(path), str(db), str(NOW),
                           str(size), str(kill_at)], capture_output=True, text=True,
                          timeout=120)
    return proc.returncode


@pytest.mark.slow
def test_a_kill_inside_a_batch_loses_that_batch_only(tmp_path: Path,
                                                     new_chain_db: NewChainDb) -> None:
    funded = extend(REGTEST, genesis_link(), 4, miner=PAYER.address_digest)
    links = funded + paid_line(REGTEST, funded[-1], 14, [PAYER], {}, 2,
                               to=PAYEE.address_digest)
    path = tmp_path / "blocks.bin"
    path.write_bytes(b"".join(len(link.block.encoded).to_bytes(4, "little")
                              + link.block.encoded for link in links))
    reference = open_chain(new_chain_db())
    expected = {}
    for link in links:
        assert reference.process_block(link.block, now=NOW).status == "connected"
        expected[link.height] = accounts(reference.store)
    reference.store.close()

    db = new_chain_db()
    # Batches of 8: the kill comes as the 12th block (the second batch's 4th) connects.
    assert _import(path, db, 8, 12) == -9
    chain = open_chain(db)
    try:
        assert chain.tip.hash == links[7].hash  # the first batch, all of it; no more
        assert accounts(chain.store) == expected[8]
        assert chain.store.get_header(links[8].hash) is None  # stored with its batch: lost
        assert chain.store.chain_hash(9) is None
    finally:
        chain.store.close()
    # What the kill lost is fetched again: the same import now goes to the end.
    assert _import(path, db, 8, 0) == 0
    chain = open_chain(db)
    try:
        assert chain.tip.hash == links[-1].hash
        assert accounts(chain.store) == expected[len(links)]
        assert chain.store.total_balance() == REGTEST.supply_at(len(links))
    finally:
        chain.store.close()


@pytest.mark.parametrize("headers_first", [True, False])
def test_a_run_on_the_tip_stops_at_a_bad_block_as_one_by_one_does(
        new_chain_db: NewChainDb, headers_first: bool) -> None:
    """A straight line, as a sync delivers it (headers first or not), with payments
    waiting in the mempool and an overspend in the middle: the run connects up to the
    overspend, which is refused with its reason, and its child is an orphan of it."""
    funded = extend(REGTEST, genesis_link(), 4, miner=PAYER.address_digest)
    paid = paid_line(REGTEST, funded[-1], 4, [PAYER], {}, 3, to=PAYEE.address_digest)
    overspend = make_block(REGTEST, paid[-1], [pay(BROKE, PAYEE.address_digest, 10**9, 0)])
    line = [*funded, *paid, overspend, make_block(REGTEST, overspend)]
    waiting = [tx for link in paid[:2] for tx in link.block.txs[1:]]
    chains = open_chain(new_chain_db()), open_chain(new_chain_db())
    try:
        for chain in chains:
            import_all(chain, funded[:1])
            if headers_first:
                assert chain.process_headers([link.header for link in line],
                                             now=NOW).error is None
        single, batched = chains
        one_by_one = [single.process_block(link.block, now=NOW) for link in line[1:4]]
        together = [res for res, _ in batched.process_blocks(
            [(link.block, True, None) for link in line[1:4]], now=NOW)]
        for chain in chains:
            for tx in waiting:
                chain.add_tx(tx, now=NOW)
        one_by_one += [single.process_block(link.block, now=NOW) for link in line[4:]]
        together += [res for res, _ in batched.process_blocks(
            [(link.block, True, None) for link in line[4:]], now=NOW)]
        assert [(r.status, r.error and r.error.code) for r in together] == [
            (r.status, r.error and r.error.code) for r in one_by_one]
        assert together[-2].status == "invalid"
        assert single.tip.hash == batched.tip.hash == paid[-1].hash
        blocks = [link.block for link in line]
        assert _state(batched, blocks) == _state(single, blocks)
        removed = {t for r in together for t in r.mempool_removed}
        assert removed == {tx.txid for tx in waiting} == {
            t for r in one_by_one for t in r.mempool_removed}
    finally:
        for chain in chains:
            chain.store.close()
