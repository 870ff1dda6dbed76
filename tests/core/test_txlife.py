"""A transaction's life through a real ledger: inclusion, a reorg and back, replacement,
persistence of the wallet's own lives; and the rejection log's one-line entries."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

import pytest

from tests.builders import block_on, pay
from tests.ui.fixed_chain import KEY_A, KEY_B, next_block
from tuichain.core.block import Block
from tuichain.core.chainstate import ImportResult
from tuichain.core.genesis import genesis_block
from tuichain.core.ledger import Ledger
from tuichain.core.params import COIN, REGTEST
from tuichain.core.rejections import Code
from tuichain.core.rejectlog import RejectLog
from tuichain.core.tx import make_payment
from tuichain.core.txlife import LIFE_FILE, LifeStore, TxLife

MINER = bytes(20)


def wire(ledger: Ledger, life: TxLife) -> None:
    ledger.events.subscribe(life.on_event)
    ledger.import_hooks.append(life.on_import)
    ledger.admit_hooks.append(life.on_admit)


def _included_texts(life: TxLife, txid: bytes, height: int) -> list[str]:
    """The texts of a payment's life, checked to begin with its inclusion at `height`."""
    line = life.get(txid)
    assert line is not None
    assert line.height == height
    texts = [e.text for e in line.events]
    assert texts[0] == f"included in block {height}"
    return texts


def kinds(life: TxLife, txid: bytes) -> list[str]:
    line = life.get(txid)
    assert line is not None
    return [e.kind for e in line.events]


async def test_a_reorg_shows_disconnected_back_in_mempool_then_included_again(
    tmp_path: Path,
) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST)
    life = TxLife()
    wire(ledger, life)
    try:
        b1 = await next_block(ledger, KEY_A.address_digest)
        await ledger.submit_block(b1, "test")
        tx = make_payment(KEY_A, REGTEST.network_id, KEY_B.address_digest, COIN, 1_000, 0)
        await ledger.submit_tx(tx, "wallet")
        await ledger.submit_block(await next_block(ledger, MINER, (tx,)), "test")
        # A heavier branch off block 1 without the payment: block 2 leaves the chain.
        c2 = await next_block(ledger, MINER, parent=b1.hash, memo=b"fork")
        await ledger.submit_block(c2, "test")
        c3 = await next_block(ledger, MINER, parent=c2.hash, memo=b"fork")
        await ledger.submit_block(c3, "test")
        assert ledger.tip is not None
        assert ledger.tip.hash == c3.hash
        await ledger.submit_block(await next_block(ledger, MINER, (tx,)), "test")
        assert kinds(life, tx.txid) == [
            "origin", "accepted", "included", "disconnected", "returned", "included"]
        line = life.get(tx.txid)
        assert line is not None
        assert line.height == 4
        texts = [e.text for e in line.events]
        assert texts[3] == "disconnected by a reorg: block 2 left the chain"
        assert texts[4] == "back in the mempool after the reorg"
        assert texts[5] == "included in block 4"
        await ledger.submit_block(await next_block(ledger, MINER), "test")
        assert kinds(life, tx.txid)[-1] == "confirmed"
        assert line.events[-1].text.startswith("2 confirmations")
    finally:
        await ledger.close()


async def test_replacement_names_the_new_txid_and_own_lives_survive_a_restart(
    tmp_path: Path,
) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST)
    store = LifeStore(tmp_path / LIFE_FILE)
    life = TxLife(store=store, own=lambda s, r: KEY_A.address_digest in (s, r))
    wire(ledger, life)
    try:
        await ledger.submit_block(await next_block(ledger, KEY_A.address_digest), "test")
        first = make_payment(KEY_A, REGTEST.network_id, KEY_B.address_digest, COIN, 1_000, 0)
        better = make_payment(KEY_A, REGTEST.network_id, KEY_B.address_digest, COIN, 5_000, 0)
        await ledger.submit_tx(first, "wallet")
        await ledger.submit_tx(better, "wallet")
        assert kinds(life, first.txid)[-1] == "replaced"
        line = life.get(first.txid)
        assert line is not None
        assert line.events[-1].other == better.txid_hex
    finally:
        await ledger.close()
        store.close()
    again = LifeStore(tmp_path / LIFE_FILE)
    try:
        reloaded = TxLife(store=again)
        assert kinds(reloaded, first.txid) == ["origin", "accepted", "replaced"]
        assert kinds(reloaded, better.txid) == ["origin", "accepted"]
    finally:
        again.close()


def test_the_lives_kept_in_memory_are_bounded() -> None:
    life = TxLife(max_txs=3)
    for i in range(5):
        life.received(bytes([i]) * 32, "p1")
    assert len(life) == 3
    assert life.get(bytes([0]) * 32) is None
    assert life.get(bytes([4]) * 32) is not None


def test_each_rejection_is_one_line_in_the_log_and_the_ring_is_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = RejectLog(capacity=2)
    with caplog.at_level(logging.INFO, logger="tuichain.rejections"):
        for nonce in (5, 6, 7):
            log.record("transaction", "rest", "ab" * 32, Code.BAD_NONCE,
                       f"nonce {nonce} skips ahead (next is 1)", field="nonce",
                       value=str(nonce), expected="1")
    assert len(log) == 2
    assert [e.value for e in log.recent()] == ["7", "6"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert all("\n" not in line for line in lines)
    assert "refused transaction " + "ab" * 32 + " from rest: bad-nonce: nonce 7, expected 1" in (
        lines[-1])
    assert Code.BAD_NONCE.explanation in lines[-1]


async def test_blocks_imported_in_one_batch_give_each_payment_its_height_and_one_count(
    tmp_path: Path,
) -> None:
    """A sync hands the ledger many blocks at once: they import as one batch, and the
    life of each payment still says the block it was in, with the confirmations it
    reached noted once rather than one by one."""
    parent = genesis_block(REGTEST).header
    blocks = []
    payments = []
    for height in range(1, 11):
        txs = []
        if height >= 3:  # block 1 funds KEY_A; from block 3 on, one payment a block
            txs = [pay(KEY_A, KEY_B.address_digest, 1000, height - 3)]
            payments.append((txs[0].txid, height))
        block = block_on(REGTEST, parent, height, txs, time=parent.time + 1,
                         miner=KEY_A.address_digest if height == 1 else MINER)
        blocks.append(block)
        parent = block.header
    ledger = await Ledger.open(tmp_path, REGTEST)
    life = TxLife()
    wire(ledger, life)
    batches: list[int] = []
    life_import = life.on_import
    ledger.import_hooks[-1] = lambda result, height: (
        batches.append(len(result.connected)), life_import(result, height))[1]
    try:
        futures = [ledger.queue_block(b, "peer") for b in blocks]
        results = [await f for f in futures]
        assert [r.status for r in results] == ["connected"] * 10
        assert max(batches) > 1, batches  # imported together, heard together
        for txid, height in payments:
            texts = _included_texts(life, txid, height)
            confirmations = min(10 - height + 1, 6)
            if confirmations > 1:
                assert texts[-1] == (f"{confirmations} confirmations "
                                     f"(tip {height + confirmations - 1})")
                assert kinds(life, txid).count("confirmed") <= 2
    finally:
        await ledger.close()


def _paid_blocks(count: int, per_block: int) -> list[Block]:
    """Block 1 funds KEY_A; blocks 2.. carry `per_block` payments each (not imported:
    TxLife only reads what an import hands it)."""
    parent = genesis_block(REGTEST).header
    blocks = []
    nonce = 0
    for height in range(1, count + 1):
        txs = []
        if height > 1:
            for _ in range(per_block):
                txs.append(pay(KEY_A, KEY_B.address_digest, 1000, nonce))
                nonce += 1
        block = block_on(REGTEST, parent, height, txs, time=parent.time + 1,
                         miner=KEY_A.address_digest if height == 1 else MINER)
        blocks.append(block)
        parent = block.header
    return blocks


def test_a_synced_batch_of_payments_never_met_costs_the_collector_nothing_until_read() -> None:
    """A sync's batch brought thousands of payments this node never met: a timeline of
    objects each (the line, its lists, its events) made every full collection on the
    loop longer, for lives nobody may ever look at. They are kept as plain values and
    told as a timeline when asked for."""
    blocks = _paid_blocks(21, 32)
    payments = [(tx.txid, height) for height, b in enumerate(blocks, start=1)
                for tx in b.txs[1:]]
    life = TxLife()
    gc.collect()
    before = len(gc.get_objects())
    life.on_import(ImportResult(blocks[-1].hash, "connected", connected=blocks), len(blocks))
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert grown < len(payments) // 10, f"{grown} tracked objects for {len(payments)} payments"
    assert len(life) == len(payments)
    tip = len(blocks)
    for txid, height in payments:
        texts = _included_texts(life, txid, height)
        confirmations = min(tip - height + 1, 6)
        if confirmations > 1:
            reached = height + confirmations - 1
            assert texts[1:] == [f"{confirmations} confirmations (tip {reached})"]
        else:
            assert texts == [f"included in block {height}"]
    # Read once, a life goes on as any other: the next block adds its confirmation.
    last = payments[-1][0]
    nxt = block_on(REGTEST, blocks[-1].header, tip + 1, [], time=blocks[-1].header.time + 1,
                   miner=MINER)
    life.on_import(ImportResult(nxt.hash, "connected", connected=[nxt]), tip + 1)
    assert [e.text for e in life.get(last).events][-1] == f"2 confirmations (tip {tip + 1})"  # type: ignore[union-attr]


def test_a_reorg_tells_a_quietly_kept_life_as_included_then_disconnected() -> None:
    blocks = _paid_blocks(3, 2)
    life = TxLife()
    life.on_import(ImportResult(blocks[-1].hash, "connected", connected=blocks), 3)
    txid = blocks[-1].txs[1].txid
    life.on_import(ImportResult(blocks[1].hash, "connected", disconnected=[blocks[-1]]), 2)
    assert kinds(life, txid) == ["included", "disconnected"]
    line = life.get(txid)
    assert line is not None
    assert line.height is None
