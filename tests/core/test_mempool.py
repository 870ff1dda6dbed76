"""Mempool: admission against tip + pending, templates, eviction, replacement, reorgs,
persistence, the signature cache and concurrent submissions."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.builders import (
    Link,
    extend,
    fork,
    genesis_link,
    grind,
    import_all,
    key,
    make_block,
    mine_on,
    pay,
)
from tuichain.core import mempool as mempool_module
from tuichain.core.block import Block
from tuichain.core.chainstate import ChainState
from tuichain.core.errors import ValidationError
from tuichain.core.events import Event, TxAccepted, TxRejected
from tuichain.core.ledger import Ledger
from tuichain.core.mempool import Mempool
from tuichain.core.params import COIN, REGTEST
from tuichain.core.policy import Policy
from tuichain.core.rejections import Code
from tuichain.core.sigcache import SigCache
from tuichain.core.store.sqlite import SqliteStore
from tuichain.core.tx import Transaction

ALICE, BOB, CAROL = key(1), key(2), key(3)
DAVE = key(4).address_digest
SUBSIDY = REGTEST.subsidy(1)


class Node:
    """A ChainState where Alice, Bob and Carol each mined one block."""

    def __init__(self, path: Path, mempool: Mempool | None = None) -> None:
        self.cs = ChainState(SqliteStore(path / "chain.sqlite3"), REGTEST, mempool=mempool)
        self.links: list[Link] = []
        parent = genesis_link()
        for k in (ALICE, BOB, CAROL):
            parent = make_block(REGTEST, parent, miner=k.address_digest)
            self.links.append(parent)
        import_all(self.cs, self.links)

    @property
    def tip(self) -> Link:
        return self.links[-1]

    def mine(self, txs: list[Transaction] | None = None, parent: Link | None = None) -> Link:
        """A block on `parent` (default: the tip) with `txs`, default the template's txs."""
        parent = parent or self.tip
        if txs is None:
            txs = list(self.cs.block_template(bytes(20)).txs[1:])
        link = make_block(REGTEST, parent, txs)
        res = self.cs.process_block(link.block, now=link.time)
        assert res.status in ("connected", "side-branch"), res.error
        if res.status == "connected":
            self.links.append(link)
        return link

    def pending(self) -> set[bytes]:
        return set(self.cs.mempool.entries)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path)
    yield n
    n.cs.store.close()


def _code(node: Node, tx: Transaction) -> str:
    with pytest.raises(ValidationError) as info:
        node.cs.add_tx(tx)
    return info.value.code


# ---- admission -------------------------------------------------------------------
def test_validated_against_tip_plus_earlier_pending(node: Node) -> None:
    a0 = pay(ALICE, DAVE, 30 * COIN, 0)
    node.cs.add_tx(a0)
    # 30 coins are pending: another 30 would overspend, 19 fits.
    assert _code(node, pay(ALICE, DAVE, 30 * COIN, 1)) == "insufficient-funds"
    a1 = pay(ALICE, DAVE, 19 * COIN, 1)
    node.cs.add_tx(a1)
    assert _code(node, pay(ALICE, DAVE, 1, 3)) == "bad-nonce"
    assert _code(node, a1) == "duplicate"
    assert node.pending() == {a0.txid, a1.txid}
    assert [t.nonce for t in node.cs.mempool.pending_of(ALICE.address_digest)] == [0, 1]


def test_incoming_pending_funds_are_not_spendable(node: Node) -> None:
    """Only confirmed balance funds a tx: pending receipts might never confirm."""
    poor = key(9)
    node.cs.add_tx(pay(ALICE, poor.address_digest, 5 * COIN, 0))
    assert _code(node, pay(poor, DAVE, COIN, 0)) == "insufficient-funds"


def test_template_by_fee_rate_in_nonce_order(node: Node) -> None:
    a0 = pay(ALICE, DAVE, COIN, 0, fee=100)
    a1 = pay(ALICE, DAVE, COIN, 1, fee=90_000)
    b0 = pay(BOB, DAVE, COIN, 0, fee=5_000)
    c0 = pay(CAROL, DAVE, COIN, 0, fee=50_000)
    for tx in (a0, a1, b0, c0):
        node.cs.add_tx(tx)
    tpl = node.cs.block_template(bytes(20))
    # Alice's high-fee nonce 1 cannot go before her low-fee nonce 0.
    assert [t.txid for t in tpl.txs[1:]] == [c0.txid, b0.txid, a0.txid, a1.txid]
    assert tpl.txs[0].amount == SUBSIDY + 100 + 90_000 + 5_000 + 50_000
    # The template is a valid block once mined.
    block = Block(grind(tpl.header), tpl.txs)
    res = node.cs.process_block(block, now=block.header.time)
    assert res.status == "connected", res.error
    assert len(node.cs.mempool) == 0
    assert node.cs.store.mempool_all() == []


def test_template_respects_size(node: Node) -> None:
    txs = [pay(ALICE, DAVE, COIN, n, fee=1000 + n) for n in range(5)]
    txs.append(pay(BOB, DAVE, COIN, 0, fee=100_000))
    for tx in txs:
        node.cs.add_tx(tx)
    chosen = node.cs.mempool.template(3 * txs[0].size)
    assert [t.txid for t in chosen] == [txs[5].txid, txs[0].txid, txs[1].txid]


# ---- bounds, eviction, replacement -------------------------------------------------
def test_bounded_with_lowest_fee_rate_evicted(tmp_path: Path) -> None:
    policy = replace(Policy.for_network(REGTEST), mempool_max_count=3)
    node = Node(tmp_path, Mempool(REGTEST, policy))
    low = pay(ALICE, DAVE, COIN, 0, fee=1_000)
    mid = pay(BOB, DAVE, COIN, 0, fee=2_000)
    high = pay(CAROL, DAVE, COIN, 0, fee=3_000)
    for tx in (low, mid, high):
        node.cs.add_tx(tx)
    higher = pay(ALICE, DAVE, COIN, 1, fee=4_000)
    # Alice's nonce 1 is her leaf; evicting low would orphan it, so mid goes
    # (Alice's leaf 'higher' and Carol's 'high' both pay more).
    gone = node.cs.add_tx(higher)
    assert gone == [mid.txid]
    assert node.pending() == {low.txid, high.txid, higher.txid}
    assert _code(node, pay(BOB, DAVE, COIN, 0, fee=500)) == "mempool-full"
    assert node.pending() == {low.txid, high.txid, higher.txid}
    persisted = {Transaction.decode(raw).txid for raw, _ in node.cs.store.mempool_all()}
    assert persisted == node.pending()
    node.cs.store.close()


def test_eviction_by_bytes(tmp_path: Path) -> None:
    one = pay(ALICE, DAVE, COIN, 0).size
    policy = replace(Policy.for_network(REGTEST), mempool_max_bytes=2 * one)
    node = Node(tmp_path, Mempool(REGTEST, policy))
    node.cs.add_tx(pay(ALICE, DAVE, COIN, 0, fee=10_000))
    b0 = pay(BOB, DAVE, COIN, 0, fee=1_000)
    node.cs.add_tx(b0)
    c0 = pay(CAROL, DAVE, COIN, 0, fee=5_000)
    assert node.cs.add_tx(c0) == [b0.txid]
    assert node.cs.mempool.bytes <= 2 * one
    node.cs.store.close()


def _full_pool_calls(where: Path, senders: int) -> tuple[int, int]:
    """Python and C function calls (sys.setprofile events, as machine-independent as
    SQLite's instruction counts) to admit one payment into a pool full of `senders`
    senders' payments by evicting one, and to refuse one paying too little."""
    keys = [key(100 + i) for i in range(senders)]
    store = SqliteStore(where / f"accounts-{senders}.sqlite3")
    try:
        with store.transaction():
            store.write_accounts({k.address_digest: (10 * COIN, 0) for k in keys})
        pool = Mempool(REGTEST, replace(Policy.for_network(REGTEST), mempool_max_count=senders))
        verify = SigCache().verify_tx
        for i, k in enumerate(keys):
            pool.add(pay(k, DAVE, COIN, 0, fee=2_000 + i), store, verify, float(i))
        calls = 0

        def count(frame: object, event: str, arg: object) -> None:
            nonlocal calls
            calls += 1

        def counted(tx: Transaction) -> int:
            nonlocal calls
            calls = 0
            sys.setprofile(count)
            try:
                pool.add(tx, store, verify, 1e6)
            finally:
                sys.setprofile(None)
            return calls

        evict = counted(pay(keys[0], DAVE, COIN, 1, fee=9_000))
        with pytest.raises(ValidationError) as refused:
            counted(pay(keys[-1], DAVE, COIN, 1, fee=500))
        assert refused.value.code == Code.MEMPOOL_FULL
        assert len(pool) == senders
        return evict, calls
    finally:
        store.close()


def test_a_full_pool_does_not_look_at_every_sender_for_each_newcomer(tmp_path: Path) -> None:
    """Each admission into a full pool scanned every sender's last payment to find the
    cheapest: at 30,000 pending from 1,000 senders, admission fell from 6,900 tx/s
    to 343. A flood of cheap payments must not cost each one a scan of the pool."""
    few_evict, few_refuse = _full_pool_calls(tmp_path, 40)
    many_evict, many_refuse = _full_pool_calls(tmp_path, 400)
    assert many_evict < 2 * few_evict, (few_evict, many_evict)
    assert many_refuse < 2 * few_refuse, (few_refuse, many_refuse)


def test_same_nonce_replacement_needs_higher_fee(node: Node) -> None:
    a0 = pay(ALICE, DAVE, COIN, 0, fee=1_000)
    node.cs.add_tx(a0)
    same = pay(ALICE, BOB.address_digest, COIN, 0, fee=1_000)
    assert _code(node, same) == "replacement-fee-too-low"
    lower = pay(ALICE, BOB.address_digest, COIN, 0, fee=999)
    assert _code(node, lower) == "replacement-fee-too-low"
    better = pay(ALICE, BOB.address_digest, COIN, 0, fee=1_001)
    assert node.cs.add_tx(better) == [a0.txid]
    assert node.pending() == {better.txid}
    assert {Transaction.decode(r).txid for r, _ in node.cs.store.mempool_all()} == {better.txid}


def test_replacement_drops_followers_it_makes_unaffordable(node: Node) -> None:
    a0 = pay(ALICE, DAVE, COIN, 0)
    a1 = pay(ALICE, DAVE, 40 * COIN, 1)
    a2 = pay(ALICE, DAVE, COIN, 2)
    for tx in (a0, a1, a2):
        node.cs.add_tx(tx)
    big = pay(ALICE, DAVE, 20 * COIN, 0, fee=2_000)
    gone = node.cs.add_tx(big)
    assert set(gone) == {a0.txid, a1.txid, a2.txid}
    assert node.pending() == {big.txid}


# ---- new tips and reorgs --------------------------------------------------------------
def test_revalidated_on_new_tip(node: Node) -> None:
    a0 = pay(ALICE, DAVE, COIN, 0)
    a1 = pay(ALICE, DAVE, COIN, 1)
    b0 = pay(BOB, DAVE, COIN, 0)
    for tx in (a0, a1, b0):
        node.cs.add_tx(tx)
    # A block confirms a conflicting Alice nonce 0 that spends almost everything.
    conflict = pay(ALICE, DAVE, SUBSIDY - COIN // 2, 0)
    node.mine([conflict])
    # a0 conflicts (nonce used), a1 can no longer be paid for; Bob's tx stays.
    assert node.pending() == {b0.txid}
    node.mine([b0])
    assert node.pending() == set()
    assert node.cs.store.mempool_all() == []


def _count_account_reads(store: SqliteStore) -> list[bytes]:
    """The addresses of the store's account reads from now on (each then read for real)."""
    asked: list[bytes] = []
    real = store.account

    def account(address: bytes) -> tuple[int, int]:
        asked.append(address)
        return real(address)

    store.account = account  # type: ignore[method-assign]
    return asked


def test_a_new_tip_rechecks_only_the_senders_its_blocks_touch(node: Node) -> None:
    """A block re-checks the pending transactions of the accounts it changed, not of
    every sender in the mempool (at 30,000 pending from 1,000 senders, that was 64 ms
    a block, an empty one too)."""
    mined, others = pay(ALICE, DAVE, COIN, 0), [pay(BOB, DAVE, COIN, 0), pay(CAROL, DAVE, COIN, 0)]
    for tx in [mined, *others]:
        node.cs.add_tx(tx)
    store = node.cs.store
    asked = _count_account_reads(store)
    node.mine([mined])
    assert node.pending() == {tx.txid for tx in others}
    untouched = {BOB.address_digest, CAROL.address_digest}
    assert not untouched & set(asked), "read the accounts of senders the block left alone"


def test_a_block_of_a_senders_own_pending_payments_leaves_the_rest_unchecked(node: Node
                                                                             ) -> None:
    """A block that confirms the first of a sender's pending payments applies the same
    debits its pending chain was checked against: the rest can still pay, and is not
    walked again (a synced block of 1,000 payments from 50 senders re-walked every
    pending payment of each). A payment the pool did not hold makes the sender checked."""
    alice = [pay(ALICE, DAVE, COIN, n) for n in range(4)]
    bob = [pay(BOB, DAVE, COIN, n) for n in range(3)]
    for tx in [*alice, *bob]:
        node.cs.add_tx(tx)
    store = node.cs.store
    asked = _count_account_reads(store)
    node.mine(alice[:2])
    assert ALICE.address_digest not in asked
    assert node.pending() == {tx.txid for tx in alice[2:] + bob}
    # Bob's nonce 0 confirmed by a payment the pool never saw, spending nearly all he has:
    # his pending chain must be checked, and his later payments can no longer be paid.
    spent = pay(BOB, DAVE, SUBSIDY - COIN // 2, 0, fee=2_000)
    node.mine([spent])
    assert BOB.address_digest in asked
    assert node.pending() == {tx.txid for tx in alice[2:]}
    assert {Transaction.decode(r).txid for r, _ in store.mempool_all()} == node.pending()


def test_a_reorg_drops_a_payment_spending_what_the_old_branch_paid_in(node: Node) -> None:
    """The accounts of disconnected blocks are re-checked too: a recipient there may
    have lost the coins its pending payment spends."""
    dave = key(4)
    base = node.tip
    paid = pay(ALICE, dave.address_digest, 5 * COIN, 0)
    node.mine([paid])
    spend = pay(dave, CAROL.address_digest, COIN, 0)
    node.cs.add_tx(spend)
    f1 = make_block(REGTEST, base, memo=b"fork")
    f2 = make_block(REGTEST, f1, memo=b"fork")
    import_all(node.cs, [f1])
    res = node.cs.process_block(f2.block, now=f2.time)
    assert res.reorg
    assert paid.txid in node.pending()  # back from the disconnected block
    assert spend.txid not in node.pending()  # Dave holds nothing on the new chain
    assert spend.txid not in {t for t, _ in node.cs.store.mempool_all()}


def test_disconnected_txs_return_to_mempool(node: Node) -> None:
    a0 = pay(ALICE, DAVE, COIN, 0)
    b0 = pay(BOB, DAVE, COIN, 0)
    c0 = pay(CAROL, DAVE, COIN, 0)
    base = node.tip
    node.mine([a0, b0])
    node.cs.add_tx(pay(ALICE, DAVE, COIN, 1))
    # A longer fork confirms only b0 (and c0).
    f1 = make_block(REGTEST, base, [b0, c0], memo=b"fork")
    f2 = make_block(REGTEST, f1, memo=b"fork")
    import_all(node.cs, [f1])
    res = node.cs.process_block(f2.block, now=f2.time)
    assert res.status == "connected"
    assert res.reorg
    pending = node.pending()
    assert a0.txid in pending  # back from the disconnected block
    assert b0.txid not in pending
    assert c0.txid not in pending
    assert a0.txid in res.mempool_added
    assert {Transaction.decode(r).txid for r, _ in node.cs.store.mempool_all()} == pending


def test_pending_follower_survives_reorg_of_its_parent_tx(node: Node) -> None:
    """Alice's nonce 1 waits in the mempool on nonce 0, which a reorg sends back too."""
    base = node.tip
    a0 = pay(ALICE, DAVE, COIN, 0)
    node.mine([a0])
    a1 = pay(ALICE, DAVE, COIN, 1)
    node.cs.add_tx(a1)
    import_all(node.cs, fork(REGTEST, base, 2))
    assert node.cs.tip.height == base.height + 2
    assert node.pending() == {a0.txid, a1.txid}
    tpl = node.cs.block_template(bytes(20))
    assert [t.txid for t in tpl.txs[1:]] == [a0.txid, a1.txid]


# ---- persistence and the signature cache ---------------------------------------------
async def _ledger_with_funds(path: Path) -> tuple[Ledger, list[Link]]:
    ledger = await Ledger.open(path, REGTEST)
    parent = genesis_link()
    links = []
    for k in (ALICE, BOB):
        parent = make_block(REGTEST, parent, miner=k.address_digest)
        links.append(parent)
        res = await ledger.submit_block(parent.block)
        assert res.status == "connected", res.error
    return ledger, links


async def test_persisted_across_restart(tmp_path: Path) -> None:
    ledger, _ = await _ledger_with_funds(tmp_path)
    a0 = pay(ALICE, DAVE, COIN, 0, fee=1_000)
    a1 = pay(ALICE, DAVE, COIN, 1)
    b0 = pay(BOB, DAVE, COIN, 0)
    for tx in (a0, a1, b0):
        await ledger.submit_tx(tx)
    # Replacing nonce 0 after nonce 1 was added: the reload must still keep nonce 1.
    a0x = pay(ALICE, DAVE, 2 * COIN, 0, fee=5_000)
    await ledger.submit_tx(a0x)
    want = {a0x.txid, a1.txid, b0.txid}
    assert {e.tx.txid for e in await ledger.mempool_entries()} == want
    await ledger.close()

    ledger = await Ledger.open(tmp_path, REGTEST)
    try:
        assert {e.tx.txid for e in await ledger.mempool_entries()} == want
        assert ledger.mempool_size == 3
        info = await ledger.account(ALICE.address_digest)
        assert info.next_nonce == 2
        assert info.pending_delta == -(3 * COIN + 5_000 + a1.fee)
        block = await mine_on(ledger, bytes(20), source=None)
        assert {t.txid for t in block.txs[1:]} == want
    finally:
        await ledger.close()


def test_pending_balance_change_follows_adds_replacements_and_blocks(tmp_path: Path) -> None:
    node = Node(tmp_path)
    mp = node.cs.mempool
    bob = BOB.address_digest
    node.cs.add_tx(pay(ALICE, bob, 2 * COIN, 0, fee=1_000))
    node.cs.add_tx(pay(CAROL, bob, COIN, 0, fee=1_000))
    node.cs.add_tx(pay(BOB, DAVE, COIN // 2, 0, fee=3_000))
    assert mp.pending_balance_change(bob) == 3 * COIN - COIN // 2 - 3_000
    assert mp.pending_balance_change(ALICE.address_digest) == -(2 * COIN + 1_000)
    # Alice replaces her payment to Bob with one to Dave: Bob's incoming shrinks.
    node.cs.add_tx(pay(ALICE, DAVE, COIN, 0, fee=9_000))
    assert mp.pending_balance_change(bob) == COIN - COIN // 2 - 3_000
    assert mp.pending_balance_change(DAVE) == COIN + COIN // 2
    node.mine()
    assert mp.pending_balance_change(bob) == 0
    assert mp.pending_balance_change(DAVE) == 0
    assert not mp.by_recipient


async def test_restart_drops_what_no_longer_fits(tmp_path: Path) -> None:
    ledger, links = await _ledger_with_funds(tmp_path)
    a0 = pay(ALICE, DAVE, COIN, 0)
    await ledger.submit_tx(a0)
    await ledger.close()
    # Meanwhile the chain confirmed a conflicting nonce 0 (written straight to the store).
    cs = ChainState(SqliteStore(tmp_path / "chain.sqlite3"), REGTEST)
    cs.mempool.remove(list(cs.mempool.entries))
    import_all(cs, [make_block(REGTEST, links[-1], [pay(ALICE, DAVE, 2 * COIN, 0)])])
    cs.store.close()
    ledger = await Ledger.open(tmp_path, REGTEST)
    try:
        assert await ledger.mempool_entries() == []
        assert ledger.chain.store.mempool_all() == []
    finally:
        await ledger.close()


async def test_signature_verified_once(tmp_path: Path) -> None:
    ledger, _ = await _ledger_with_funds(tmp_path)
    try:
        txs = [pay(ALICE, DAVE, COIN, n) for n in range(3)]
        for tx in txs:
            await ledger.submit_tx(tx)
        cache = ledger.sigcache
        assert all(tx.txid in cache for tx in txs)
        hits, misses = cache.hits, cache.misses
        await mine_on(ledger, bytes(20), source=None)
        assert cache.misses == misses
        assert cache.hits == hits + 3
        # A tx never seen before is verified when its block arrives.
        fresh = pay(BOB, DAVE, COIN, 0)
        tip = ledger.tip
        assert tip is not None
        parent_block = await ledger.get_block(tip.hash)
        assert parent_block is not None
        link = make_block(REGTEST, Link(parent_block, tip.height), [fresh])
        assert (await ledger.submit_block(link.block)).status == "connected"
        assert cache.misses == misses + 1
    finally:
        await ledger.close()


# ---- concurrency -------------------------------------------------------------------
async def test_concurrent_whole_balance_sends(tmp_path: Path) -> None:
    ledger, _ = await _ledger_with_funds(tmp_path)
    try:
        fee = 1_000
        everything = SUBSIDY - 2 * fee  # leaves room for the fee variations below
        txs = [
            pay(ALICE, key(100 + i).address_digest, everything, 0, fee=fee + i) for i in range(12)
        ]
        txs += [pay(ALICE, key(200 + i).address_digest, everything, 1, fee=fee) for i in range(6)]
        txs += [pay(ALICE, key(300 + i).address_digest, everything, 2, fee=fee) for i in range(3)]
        results = await asyncio.gather(
            *(ledger.submit_tx(tx) for tx in txs), return_exceptions=True
        )
        accepted = [r for r in results if isinstance(r, Transaction)]
        errors = [r for r in results if not isinstance(r, Transaction)]
        assert all(isinstance(e, ValidationError) for e in errors), errors
        assert accepted, "at least one send of the balance must get in"
        assert all(t.nonce == 0 for t in accepted)
        pending = [e.tx for e in await ledger.mempool_entries()]
        assert [t.nonce for t in pending] == [0]
        await mine_on(ledger, bytes(20), source=None)
        info = await ledger.account(ALICE.address_digest)
        assert info.balance >= 0
        assert info.nonce == 1
        assert info.balance == SUBSIDY - everything - pending[0].fee
        recipients = [t.recipient for t in txs]
        got = [(await ledger.account(r)).balance for r in recipients]
        assert sorted(got, reverse=True)[:2] == [everything, 0]
        assert await ledger.supply() == REGTEST.supply_at(ledger.tip.height)  # type: ignore[union-attr]
    finally:
        await ledger.close()


async def test_concurrent_sends_from_many_senders(tmp_path: Path) -> None:
    ledger, _ = await _ledger_with_funds(tmp_path)
    try:
        txs = [pay(k, DAVE, COIN, n, fee=1_000 + n) for k in (ALICE, BOB) for n in range(20)]
        results = await asyncio.gather(
            *(ledger.submit_tx(tx) for tx in txs), return_exceptions=True
        )
        # The writer admits in submission order, so every chain of nonces fits.
        assert all(isinstance(r, Transaction) for r in results), results
        assert ledger.mempool_size == 40
        await mine_on(ledger, bytes(20), source=None)
        assert ledger.mempool_size == 0
        assert (await ledger.account(DAVE)).balance == 40 * COIN
    finally:
        await ledger.close()


async def test_submissions_admitted_together_keep_their_own_outcomes(tmp_path: Path) -> None:
    """Submissions queued behind the writer go in as one batch: each still gets its own
    answer and event, in submission order, and the stored mempool matches memory."""
    ledger, _ = await _ledger_with_funds(tmp_path)
    seen: list[tuple[str, bytes]] = []

    def record(event: Event) -> None:
        if isinstance(event, TxAccepted | TxRejected):
            seen.append((type(event).__name__, event.txid))

    ledger.events.subscribe(record)
    first = pay(ALICE, DAVE, COIN, 0, fee=1_000)
    better = pay(ALICE, DAVE, COIN, 0, fee=2_000)  # replaces `first` within the batch
    skips = pay(BOB, DAVE, COIN, 5)  # refused: a gap in Bob's nonces
    txs = [first, pay(BOB, DAVE, COIN, 0), better, skips, pay(BOB, DAVE, COIN, 1),
           pay(ALICE, DAVE, COIN, 1, fee=2_000)]
    try:
        results = await asyncio.gather(*(ledger.submit_tx(tx) for tx in txs),
                                       return_exceptions=True)
        assert [isinstance(r, Transaction) for r in results] == [True, True, True, False,
                                                                 True, True]
        assert isinstance(results[3], ValidationError)
        assert results[3].code == "bad-nonce"
        assert seen == [("TxRejected" if tx is skips else "TxAccepted", tx.txid) for tx in txs]
        pending = {tx.txid for tx in txs} - {first.txid, skips.txid}
        assert {e.tx.txid for e in await ledger.mempool_entries()} == pending
    finally:
        await ledger.close()
    # What was acknowledged is what was stored: nothing more (the replaced one), nothing less.
    stored = SqliteStore(tmp_path / "chain.sqlite3")
    try:
        assert {Transaction.decode(raw).txid for raw, _ in stored.mempool_all()} == pending
    finally:
        stored.close()


async def test_signatures_queued_behind_the_writer_are_checked_once_ahead(
        tmp_path: Path) -> None:
    """While the writer admits one batch, the next one's signatures are checked on the
    verify pool: every signature is checked exactly once, and a forged one among them
    is still refused for its signature, the others accepted."""
    ledger, _ = await _ledger_with_funds(tmp_path)
    txs = [pay(k, DAVE, COIN, n, fee=1_000 + n) for k in (ALICE, BOB) for n in range(30)]
    forged = replace(txs[45], signature=bytes(64))
    txs[45:] = [forged]  # Bob's later nonces would only fail for the gap: leave them out
    try:
        misses = ledger.sigcache.misses
        first = asyncio.ensure_future(ledger.submit_tx(txs[0]))
        await asyncio.sleep(0)  # the writer busy with the first: the rest queue behind it
        rest = await asyncio.gather(*(ledger.submit_tx(tx) for tx in txs[1:]),
                                    return_exceptions=True)
        results = [await first, *rest]
        assert all(isinstance(r, Transaction) for r in results[:-1]), results
        refused = results[-1]
        assert isinstance(refused, ValidationError)
        assert refused.code == Code.BAD_SIGNATURE
        assert ledger.sigcache.misses - misses == len(txs)  # none checked twice, nor the forged
        assert ledger.mempool_size == len(txs) - 1
    finally:
        await ledger.close()


def test_spending_after_a_replacement_counts_the_replacement(node: Node) -> None:
    """A sender's pending spend is kept as a running total: a replacement that spends
    less must leave room for what follows it."""
    node.cs.add_tx(pay(ALICE, DAVE, SUBSIDY // 4, 0, fee=1_000))
    node.cs.add_tx(pay(ALICE, DAVE, SUBSIDY // 4, 1, fee=1_000))
    node.cs.add_tx(pay(ALICE, DAVE, SUBSIDY // 8, 1, fee=2_000))
    follow = pay(ALICE, DAVE, SUBSIDY // 2, 2, fee=1_000)
    node.cs.add_tx(follow)
    assert follow.txid in node.pending()
    assert _code(node, pay(ALICE, DAVE, SUBSIDY // 8, 3)) == "insufficient-funds"


def test_extend_keeps_mempool(node: Node) -> None:
    a0 = pay(ALICE, DAVE, COIN, 0)
    node.cs.add_tx(a0)
    import_all(node.cs, extend(REGTEST, node.tip, 3))
    assert node.pending() == {a0.txid}


async def test_one_address_view_and_median_fee_rate_match_the_whole_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wallet screen and the fee suggestion used to move the whole pool to the loop
    # on every refresh; they now ask the writer for their answer only. Same answers.
    ledger, _ = await _ledger_with_funds(tmp_path)
    try:
        assert await ledger.median_fee_rate() is None
        alice, bob = ALICE.address_digest, BOB.address_digest
        txs = [pay(ALICE, DAVE, COIN, 0, fee=1_000), pay(BOB, alice, COIN, 0, fee=7_000),
               pay(ALICE, bob, COIN, 1, fee=3_000), pay(BOB, DAVE, COIN, 1, fee=2_000),
               pay(ALICE, DAVE, COIN, 2, fee=5_000), pay(BOB, DAVE, COIN, 2, fee=9_000)]
        # An even count: the median is the upper of the two middles, as it always was.
        for tx in txs:
            await ledger.submit_tx(tx)
        everything = await ledger.mempool_entries()
        for me in (alice, bob, DAVE):
            want = [e for e in everything if me in (e.tx.sender_address, e.tx.recipient)]
            assert want
            assert await ledger.mempool_entries_of(me) == want
        rates = sorted(e.fee_rate for e in everything)
        assert await ledger.median_fee_rate() == rates[len(rates) // 2]
        # Past MEDIAN_SAMPLE entries, the median of an even spread of the pool.
        monkeypatch.setattr(mempool_module, "MEDIAN_SAMPLE", 2)
        spread = sorted(e.fee_rate for e in list(ledger.chain.mempool.entries.values())[::4])
        assert await ledger.median_fee_rate() == spread[len(spread) // 2]
        assert len(await ledger.mempool_entries_of(bytes([0x55]) * 20)) == 0
        page = await ledger.mempool_page(4)  # the open-transactions screen's view
        assert page.entries == everything[:4]
        assert (page.count, page.fees) == (len(everything), sum(e.tx.fee for e in everything))
    finally:
        await ledger.close()


def _leaves_agree(pool: Mempool) -> None:
    """Each sender's leaf (the only payment eviction may take) is its highest nonce."""
    assert set(pool._leaf) == set(pool.by_sender)
    for sender, nonces in pool.by_sender.items():
        assert pool._leaf[sender] == nonces[max(nonces)], sender.hex()


def test_each_sender_keeps_its_highest_nonce_as_its_leaf(node: Node) -> None:
    # The leaf is linked without a look at the sender's chain when a payment extends it:
    # replacements of an inner or of the last nonce, confirmations and a reorg must
    # leave it on the highest nonce all the same.
    pool = node.cs.mempool
    alice = [pay(ALICE, DAVE, COIN, n, fee=1_000) for n in range(4)]
    for tx in [*alice, pay(BOB, DAVE, COIN, 0)]:
        node.cs.add_tx(tx)
        _leaves_agree(pool)
    node.cs.add_tx(pay(ALICE, DAVE, COIN, 1, fee=2_000))  # inner: the leaf stays
    _leaves_agree(pool)
    assert pool._leaf[ALICE.address_digest] == alice[3].txid
    last = pay(ALICE, DAVE, COIN, 3, fee=2_000)
    node.cs.add_tx(last)  # the last one: the leaf is its replacement
    _leaves_agree(pool)
    assert pool._leaf[ALICE.address_digest] == last.txid
    fork_point = node.tip
    node.mine([alice[0]])
    _leaves_agree(pool)
    node.cs.add_tx(pay(ALICE, DAVE, COIN, 4))
    _leaves_agree(pool)
    # A longer branch without Alice's payment: nonce 0 comes back below the others.
    branch = node.mine([], parent=fork_point)
    node.mine([], parent=node.mine([], parent=branch))
    assert alice[0].txid in pool.entries
    _leaves_agree(pool)
