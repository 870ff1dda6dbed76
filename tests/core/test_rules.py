"""One test per consensus rule: build the bad object, check the code, check nothing moved."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import (
    MINER,
    Link,
    accounts,
    extend,
    genesis_link,
    grind,
    grind_fail,
    import_all,
    key,
    make_block,
    pay,
    retarget_params,
    with_mined_genesis,
)
from tuichain.core.block import Block, BlockHeader
from tuichain.core.chainstate import ChainState
from tuichain.core.errors import DecodeError, ValidationError
from tuichain.core.ledger import Ledger
from tuichain.core.merkle import merkle_root
from tuichain.core.params import COIN, REGTEST, NetworkParams
from tuichain.core.pow import (
    decode_compact,
    encode_compact,
    retarget,
    target_from_bits,
)
from tuichain.core.store import INVALID
from tuichain.core.store.sqlite import SqliteStore
from tuichain.core.tx import Transaction, make_coinbase

ALICE = key(1)
BOB = key(2).address_digest
SUBSIDY = REGTEST.subsidy(1)

# About 2**8 hashes a block: proof of work that a random nonce usually fails.
POW = with_mined_genesis(
    dataclasses.replace(
        REGTEST, name="regtest-pow", genesis_bits=0x2000FFFF, pow_limit_bits=0x2000FFFF
    )
)


class Chain:
    """A ChainState whose first block pays Alice, and a snapshot of what must not move."""

    def __init__(
        self, path: Path, params: NetworkParams = REGTEST, spacing: int | None = None
    ) -> None:
        self.params = params
        self.cs = ChainState(SqliteStore(path / "chain.sqlite3"), params)
        self.genesis = genesis_link(params)
        step = params.target_spacing if spacing is None else spacing
        self.funded = make_block(
            params, self.genesis, miner=ALICE.address_digest, time=self.genesis.time + step
        )
        import_all(self.cs, [self.funded])

    def snapshot(self) -> tuple[bytes, int, dict[bytes, tuple[int, int]], int]:
        rows = self.cs.store.db.execute("SELECT COUNT(*) FROM chain").fetchone()[0]
        return self.cs.tip.hash, self.cs.tip.height, accounts(self.cs.store), rows

    def reject(self, block: Block, code: str, now: int | None = None) -> None:
        """Import must fail with `code` and leave tip, state and active chain as they were."""
        before = self.snapshot()
        result = self.cs.process_block(block, now=block.header.time if now is None else now)
        assert result.status == "invalid", result
        assert result.error is not None
        assert result.error.code == code, result.error
        assert result.connected == []
        assert result.disconnected == []
        assert self.snapshot() == before

    def accept(self, link: Link) -> None:
        result = self.cs.process_block(link.block, now=link.time)
        assert result.status == "connected", (result.status, result.error)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    c = Chain(tmp_path)
    yield c
    c.cs.store.close()


@pytest.fixture
def pow_chain(tmp_path: Path) -> Iterator[Chain]:
    c = Chain(tmp_path, POW)
    yield c
    c.cs.store.close()


def test_mined_genesis_really_meets_its_bits() -> None:
    g = genesis_link(POW)
    assert int.from_bytes(g.hash, "little") <= target_from_bits(POW.genesis_bits)
    # A random header at these bits fails almost always: the PoW tests below test something.
    assert target_from_bits(POW.genesis_bits) < (1 << 256) >> 7


# ---- header rules ------------------------------------------------------------
def test_bad_pow(pow_chain: Chain) -> None:
    good = make_block(POW, pow_chain.funded)
    bad = Block(grind_fail(good.header), good.block.txs)
    pow_chain.reject(bad, "bad-pow")
    pow_chain.accept(good)


def test_bits_easier_than_pow_limit(pow_chain: Chain) -> None:
    link = make_block(POW, pow_chain.funded, bits=0x207FFFFF)
    pow_chain.reject(link.block, "bad-bits")


def test_wrong_bits(pow_chain: Chain) -> None:
    # Harder than required is still wrong: bits must be exactly the schedule's.
    harder = encode_compact(target_from_bits(POW.genesis_bits) // 2)
    link = make_block(POW, pow_chain.funded, bits=harder)
    pow_chain.reject(link.block, "bad-bits")


def test_wrong_bits_rejected_as_header(pow_chain: Chain) -> None:
    harder = encode_compact(target_from_bits(POW.genesis_bits) // 2)
    link = make_block(POW, pow_chain.funded, bits=harder)
    res = pow_chain.cs.process_headers([link.header], now=link.time)
    assert res.accepted == []
    assert res.error is not None
    assert res.error.code == "bad-bits"


def test_time_too_old(chain: Chain) -> None:
    links = extend(REGTEST, chain.funded, 11)
    import_all(chain.cs, links)
    times = sorted(link.time for link in links)
    mtp = times[len(times) // 2]
    chain.reject(make_block(REGTEST, links[-1], time=mtp).block, "time-too-old")
    chain.accept(make_block(REGTEST, links[-1], time=mtp + 1))


def test_time_too_new(chain: Chain) -> None:
    now = chain.funded.time + 100
    limit = now + REGTEST.max_future_time
    chain.reject(make_block(REGTEST, chain.funded, time=limit + 1).block, "time-too-new", now)
    ok = make_block(REGTEST, chain.funded, time=limit)
    assert chain.cs.process_block(ok.block, now=now).status == "connected"


async def test_time_too_new_against_the_clock(tmp_path: Path) -> None:
    """Through the Ledger, which compares with the real clock."""

    ledger = await Ledger.open(tmp_path, REGTEST)
    try:
        tip = genesis_link(REGTEST)
        far = make_block(REGTEST, tip, time=int(time.time()) + REGTEST.max_future_time + 3600)
        res = await ledger.submit_block(far.block)
        assert res.status == "invalid"
        assert res.error is not None
        assert res.error.code == "time-too-new"
        assert ledger.tip is not None
        assert ledger.tip.height == 0
    finally:
        await ledger.close()


# ---- block structure -----------------------------------------------------------
def test_bad_merkle(chain: Chain) -> None:
    link = make_block(REGTEST, chain.funded, merkle=bytes(32))
    chain.reject(link.block, "bad-merkle")


def test_bad_merkle_swapped_txs(chain: Chain) -> None:
    txs = [pay(ALICE, BOB, COIN, 0), pay(ALICE, BOB, COIN, 1)]
    good = make_block(REGTEST, chain.funded, txs)
    swapped = Block(good.header, (good.block.txs[0], txs[1], txs[0]))
    chain.reject(swapped, "bad-merkle")


def test_duplicate_txid(chain: Chain) -> None:
    tx = pay(ALICE, BOB, COIN, 0)
    cb = make_coinbase(REGTEST.network_id, MINER, SUBSIDY, 2)
    link = make_block(REGTEST, chain.funded, all_txs=(cb, tx, tx))
    chain.reject(link.block, "duplicate-txid")


def test_duplicated_last_leaf_does_not_poison_the_real_block(chain: Chain) -> None:
    """CVE-2012-2459: [cb, a, b] and [cb, a, b, b] share a Merkle root and a hash."""
    txs = [pay(ALICE, BOB, COIN, 0), pay(ALICE, BOB, COIN, 1)]
    good = make_block(REGTEST, chain.funded, txs)
    mutated = Block(good.header, (*good.block.txs, txs[1]))
    assert mutated.computed_merkle_root() == good.header.merkle_root
    assert mutated.hash == good.hash
    chain.reject(mutated, "duplicate-txid")
    chain.accept(good)


def test_block_too_large(tmp_path: Path) -> None:
    small = dataclasses.replace(REGTEST, name="regtest-small", max_block_size=1000)
    c = Chain(tmp_path, small)
    txs = [pay(ALICE, BOB, COIN, n, params=small) for n in range(7)]
    link = make_block(small, c.funded, txs)
    assert link.block.size > 1000
    c.reject(link.block, "block-too-large")
    fits = make_block(small, c.funded, txs[:5])
    assert fits.block.size <= 1000
    c.accept(fits)
    c.cs.store.close()


def test_multiple_coinbase(chain: Chain) -> None:
    cb = make_coinbase(REGTEST.network_id, MINER, SUBSIDY, 2)
    cb2 = make_coinbase(REGTEST.network_id, BOB, 1, 2, b"second")
    link = make_block(REGTEST, chain.funded, all_txs=(cb, cb2))
    chain.reject(link.block, "multiple-coinbase")


def test_missing_coinbase(chain: Chain) -> None:
    link = make_block(REGTEST, chain.funded, all_txs=(pay(ALICE, BOB, COIN, 0),))
    chain.reject(link.block, "no-coinbase")


def test_block_without_transactions(chain: Chain) -> None:
    header = grind(
        BlockHeader(1, chain.funded.hash, bytes(32), chain.funded.time + 1, REGTEST.genesis_bits, 0)
    )
    chain.reject(Block(header, ()), "no-coinbase")


def test_coinbase_too_much(chain: Chain) -> None:
    tx = pay(ALICE, BOB, COIN, 0, fee=5000)
    chain.reject(
        make_block(REGTEST, chain.funded, [tx], coinbase_amount=SUBSIDY + 5001).block,
        "bad-coinbase-amount",
    )
    chain.accept(make_block(REGTEST, chain.funded, [tx], coinbase_amount=SUBSIDY + 5000))


def test_coinbase_may_claim_less(chain: Chain) -> None:
    chain.accept(make_block(REGTEST, chain.funded, coinbase_amount=1))


def test_coinbase_wrong_height(chain: Chain) -> None:
    chain.reject(make_block(REGTEST, chain.funded, coinbase_height=3).block, "bad-coinbase-height")
    chain.reject(make_block(REGTEST, chain.funded, coinbase_height=1).block, "bad-coinbase-height")


def test_coinbase_for_another_network(chain: Chain) -> None:
    cb = make_coinbase(REGTEST.network_id + 1, MINER, SUBSIDY, 2)
    chain.reject(make_block(REGTEST, chain.funded, coinbase=cb).block, "wrong-network")


# ---- transaction rules, inside a block -------------------------------------------
def _forged(tx: Transaction) -> Transaction:
    """Same tx, but the amount changed after signing."""
    return dataclasses.replace(tx, amount=tx.amount + 1)


BAD_TXS = {
    "bad-signature": lambda: _forged(pay(ALICE, BOB, COIN, 0)),
    "wrong-network": lambda: pay(
        ALICE, BOB, COIN, 0, params=dataclasses.replace(REGTEST, network_id=7)
    ),
    "insufficient-funds": lambda: pay(ALICE, BOB, SUBSIDY, 0, fee=1),
    "bad-nonce-skip": lambda: pay(ALICE, BOB, COIN, 1),
    "bad-amount-zero": lambda: pay(ALICE, BOB, 0, 0),
    "bad-amount-max": lambda: pay(ALICE, BOB, REGTEST.max_money + 1, 0),
    "unexpected-coinbase": lambda: make_coinbase(REGTEST.network_id, BOB, 1, 2, b"x"),
}


def _code(name: str) -> str:
    if name == "unexpected-coinbase":
        return "multiple-coinbase"
    return name.removesuffix("-skip").removesuffix("-zero").removesuffix("-max")


@pytest.mark.parametrize("name", sorted(BAD_TXS))
def test_bad_tx_in_block(chain: Chain, name: str) -> None:
    tx = BAD_TXS[name]()
    chain.reject(make_block(REGTEST, chain.funded, [tx]).block, _code(name))


@pytest.mark.parametrize("name", sorted(set(BAD_TXS) - {"unexpected-coinbase"}))
def test_bad_tx_in_mempool(chain: Chain, name: str) -> None:
    tx = BAD_TXS[name]()
    with pytest.raises(ValidationError) as info:
        chain.cs.add_tx(tx)
    assert info.value.code == _code(name)
    assert len(chain.cs.mempool) == 0
    assert chain.cs.store.mempool_all() == []


def test_coinbase_refused_by_mempool(chain: Chain) -> None:
    with pytest.raises(ValidationError) as info:
        chain.cs.add_tx(make_coinbase(REGTEST.network_id, BOB, 1, 2))
    assert info.value.code == "unexpected-coinbase"


def test_negative_amount_cannot_be_built() -> None:
    with pytest.raises(DecodeError):
        pay(ALICE, BOB, -1, 0)
    with pytest.raises(DecodeError):
        pay(ALICE, BOB, 1, 0, fee=-1)


def test_replayed_nonce(chain: Chain) -> None:
    first = pay(ALICE, BOB, COIN, 0)
    b2 = make_block(REGTEST, chain.funded, [first])
    chain.accept(b2)
    # The very same tx again, and a fresh tx reusing nonce 0.
    again = make_block(REGTEST, b2, [first])
    chain.reject(again.block, "bad-nonce")
    reuse = make_block(REGTEST, b2, [pay(ALICE, BOB, 2 * COIN, 0)])
    chain.reject(reuse.block, "bad-nonce")
    with pytest.raises(ValidationError) as info:
        chain.cs.add_tx(pay(ALICE, BOB, 3 * COIN, 0))
    assert info.value.code == "bad-nonce"
    chain.accept(make_block(REGTEST, b2, [pay(ALICE, BOB, 2 * COIN, 1)]))


def test_nonces_in_one_block_must_run_in_order(chain: Chain) -> None:
    t0, t1 = pay(ALICE, BOB, COIN, 0), pay(ALICE, BOB, COIN, 1)
    chain.reject(make_block(REGTEST, chain.funded, [t1, t0]).block, "bad-nonce")
    chain.accept(make_block(REGTEST, chain.funded, [t0, t1]))


def test_overspend_across_one_block(chain: Chain) -> None:
    half = SUBSIDY // 2
    txs = [pay(ALICE, BOB, half, 0, fee=0), pay(ALICE, BOB, half, 1, fee=1)]
    chain.reject(make_block(REGTEST, chain.funded, txs).block, "insufficient-funds")


def test_spend_exactly_the_balance(chain: Chain) -> None:
    tx = pay(ALICE, BOB, SUBSIDY - 10, 0, fee=10)
    chain.accept(make_block(REGTEST, chain.funded, [tx]))
    assert chain.cs.store.account(ALICE.address_digest) == (0, 1)
    assert chain.cs.store.account(BOB) == (SUBSIDY - 10, 0)


def test_received_funds_spendable_in_same_block(chain: Chain) -> None:
    carol = key(3)
    txs = [pay(ALICE, carol.address_digest, 2 * COIN, 0), pay(carol, BOB, COIN, 0)]
    chain.accept(make_block(REGTEST, chain.funded, txs))
    assert chain.cs.store.account(carol.address_digest)[1] == 1


# ---- after a rejection ---------------------------------------------------------------
def test_invalid_block_and_descendants_are_remembered(chain: Chain) -> None:
    bad = make_block(REGTEST, chain.funded, coinbase_amount=SUBSIDY + 1)
    child = make_block(REGTEST, bad)
    chain.reject(bad.block, "bad-coinbase-amount")
    assert chain.cs.entry(bad.hash) is not None
    assert chain.cs.entry(bad.hash).status == INVALID  # type: ignore[union-attr]
    res = chain.cs.process_block(child.block, now=child.time)
    assert res.status == "invalid"
    assert res.error is not None
    assert res.error.code == "bad-prevblk"
    res = chain.cs.process_block(bad.block, now=bad.time)
    assert res.error is not None
    assert res.error.code == "known-invalid"


def test_context_free_failure_does_not_mark_hash_invalid(chain: Chain) -> None:
    """A body mangled in transit must not get the real block (same header) banned."""
    good = make_block(REGTEST, chain.funded, [pay(ALICE, BOB, COIN, 0)])
    mangled = Block(good.header, (good.block.txs[0], _forged(good.block.txs[1])))
    chain.reject(mangled, "bad-merkle")
    chain.accept(good)


# ---- difficulty schedule -------------------------------------------------------------
RT = retarget_params()


def _expected(parent_bits: int, first_time: int, last_time: int) -> int:
    """Bitcoin's rule written out again, independently of pow.retarget."""
    span = min(max(last_time - first_time, RT.target_timespan // 4), RT.target_timespan * 4)
    new = decode_compact(parent_bits).target * span // RT.target_timespan
    return encode_compact(min(new, decode_compact(RT.pow_limit_bits).target))


def test_retarget_raises_difficulty_after_fast_blocks(tmp_path: Path) -> None:
    c = Chain(tmp_path, RT, spacing=1)  # block 1
    links = [c.funded]
    links += extend(RT, c.funded, 2, spacing=1)  # blocks 2..3, one second apart
    import_all(c.cs, links[1:])
    g = c.genesis
    want = _expected(RT.genesis_bits, g.time, links[-1].time)
    assert want == retarget(
        RT.pow_limit_bits, RT.target_timespan, RT.genesis_bits, g.time, links[-1].time
    )
    # Clamped at 4x: the target is a quarter (within compact rounding).
    old, new = target_from_bits(RT.genesis_bits), target_from_bits(want)
    assert new < old
    assert abs(new * 4 - old) <= old >> 16
    # Block 4 is a retarget height: the old bits are now wrong, the new bits right.
    c.reject(make_block(RT, links[-1], time=links[-1].time + 1).block, "bad-bits")
    four = make_block(RT, links[-1], time=links[-1].time + 1, bits=want)
    c.accept(four)
    three = c.cs.entry(links[-1].hash)
    two = c.cs.entry(links[-2].hash)
    assert three is not None
    assert two is not None
    work_four = c.cs.tip.chainwork - three.chainwork
    assert abs(work_four - 4 * (three.chainwork - two.chainwork)) <= work_four >> 10
    # Between retargets the bits must stay what they are.
    c.reject(make_block(RT, four, bits=RT.genesis_bits).block, "bad-bits")
    c.accept(make_block(RT, four))
    c.cs.store.close()


def test_retarget_after_slow_blocks_is_capped_at_pow_limit(tmp_path: Path) -> None:
    c = Chain(tmp_path, RT)
    links = [c.funded, *extend(RT, c.funded, 2, spacing=10_000)]
    import_all(c.cs, links[1:])
    want = _expected(RT.genesis_bits, c.genesis.time, links[-1].time)
    assert target_from_bits(want) > target_from_bits(RT.genesis_bits)
    assert target_from_bits(want) <= decode_compact(RT.pow_limit_bits).target
    c.accept(make_block(RT, links[-1], bits=want, time=links[-1].time + 10_000))
    assert c.cs.tip.header.bits == want
    c.cs.store.close()


def test_merkle_root_helper_matches_block() -> None:
    link = make_block(REGTEST, genesis_link())
    assert merkle_root(link.block.txids) == link.header.merkle_root
