"""Builders shared by the tests and the benches: blocks, chains, mining, waiting.

`grind` is the one nonce grinder. `block_on` builds (and by default mines) one
block on a parent header with chosen transactions, time and bits; every
consensus field can be overridden so a test can build exactly the bad block it
wants. A `Link` is a block plus its height, everything needed to build a child
on it: `make_block` is `block_on` for a Link, `extend` mines a line of blocks
and `fork` is the one-line fork, a line off any block whose hashes differ from
the existing children of that block. `mine_on` mines a ledger's own template,
and `wait_for` polls a condition inside a running event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tuichain.core.block import Block, BlockHeader
from tuichain.core.chainstate import ChainState
from tuichain.core.genesis import genesis_block
from tuichain.core.keys import PrivateKey
from tuichain.core.ledger import Ledger
from tuichain.core.merkle import merkle_root
from tuichain.core.params import REGTEST, NetworkParams
from tuichain.core.pow import hash_meets_target, target_from_bits
from tuichain.core.store import Store, open_store
from tuichain.core.tx import Transaction, make_coinbase, make_payment

MINER = bytes([0xEE]) * 20


def key(n: int) -> PrivateKey:
    """A deterministic test key: the same n always gives the same account."""
    return PrivateKey(hashlib.sha256(b"tuichain-test-key-%d" % n).digest())


@dataclass(frozen=True)
class Link:
    block: Block
    height: int

    @property
    def hash(self) -> bytes:
        return self.block.hash

    @property
    def header(self) -> BlockHeader:
        return self.block.header

    @property
    def time(self) -> int:
        return self.block.header.time

    @property
    def bits(self) -> int:
        return self.block.header.bits


def genesis_link(params: NetworkParams = REGTEST) -> Link:
    return Link(genesis_block(params), 0)


def grind(header: BlockHeader, start: int = 0) -> BlockHeader:
    """The first nonce from `start` whose hash meets the header's own target."""
    target = target_from_bits(header.bits)
    nonce = start
    while True:
        h = header.with_nonce(nonce)
        if hash_meets_target(h.hash, target):
            return h
        nonce += 1


def grind_fail(header: BlockHeader) -> BlockHeader:
    """A nonce whose hash does NOT meet the target (for bad-pow tests)."""
    target = target_from_bits(header.bits)
    nonce = 0
    while hash_meets_target(header.with_nonce(nonce).hash, target):
        nonce += 1
    return header.with_nonce(nonce)


def with_mined_genesis(params: NetworkParams) -> NetworkParams:
    """The same parameters with a genesis nonce that really meets the genesis bits."""
    mined = grind(genesis_block(params).header)
    return dataclasses.replace(params, genesis_nonce=mined.nonce)


@cache
def retarget_params() -> NetworkParams:
    """REGTEST with retargeting on (every 4 blocks, 60 s spacing) and a mined genesis."""
    return with_mined_genesis(
        dataclasses.replace(
            REGTEST,
            name="regtest-retarget",
            no_retarget=False,
            retarget_interval=4,
            target_spacing=60,
            genesis_bits=0x2000FFFF,
            pow_limit_bits=0x207FFFFF,
        )
    )


def block_on(
    params: NetworkParams,
    parent: BlockHeader,
    height: int,
    txs: Sequence[Transaction] = (),
    *,
    time: int | None = None,
    bits: int | None = None,
    miner: bytes = MINER,
    coinbase_amount: int | None = None,
    coinbase_height: int | None = None,
    memo: bytes = b"",
    coinbase: Transaction | None = None,
    all_txs: Sequence[Transaction] | None = None,
    merkle: bytes | None = None,
    mine: bool = True,
) -> Block:
    """Block `height` on `parent`. Defaults make a valid block; each keyword breaks one thing.

    The coinbase claims subsidy plus all fees unless `coinbase_amount` says
    otherwise. `memo` (on the coinbase) is how two siblings get different hashes.
    `all_txs` replaces the whole list, coinbase included. The time defaults to
    one target spacing after the parent.
    """
    if all_txs is None:
        if coinbase is None:
            fees = sum(tx.fee for tx in txs)
            amount = params.subsidy(height) + fees if coinbase_amount is None else coinbase_amount
            coinbase = make_coinbase(
                params.network_id,
                miner,
                amount,
                height if coinbase_height is None else coinbase_height,
                memo,
            )
        all_txs = (coinbase, *txs)
    header = BlockHeader(
        1,
        parent.hash,
        merkle_root([t.txid for t in all_txs]) if merkle is None else merkle,
        parent.time + params.target_spacing if time is None else time,
        parent.bits if bits is None else bits,
        0,
    )
    if mine:
        header = grind(header)
    return Block(header, tuple(all_txs))


def make_block(
    params: NetworkParams,
    parent: Link,
    txs: Sequence[Transaction] = (),
    **overrides: Any,
) -> Link:
    """A child of `parent`: `block_on` with the same keywords, at the next height."""
    height = parent.height + 1
    return Link(block_on(params, parent.header, height, txs, **overrides), height)


def extend(
    params: NetworkParams,
    parent: Link,
    count: int,
    *,
    tag: bytes = b"",
    miner: bytes = MINER,
    spacing: int | None = None,
) -> list[Link]:
    """`count` empty blocks in a line on `parent`; `tag` goes in each coinbase memo."""
    out: list[Link] = []
    step = params.target_spacing if spacing is None else spacing
    for _ in range(count):
        parent = make_block(params, parent, memo=tag, miner=miner, time=parent.time + step)
        out.append(parent)
    return out


def fork(params: NetworkParams, base: Link, count: int, tag: bytes = b"fork") -> list[Link]:
    """A one-line fork: `count` blocks off `base`, distinct from any untagged line."""
    return extend(params, base, count, tag=tag)


def funded(payers: Sequence[PrivateKey], params: NetworkParams = REGTEST) -> list[Link]:
    """One block on genesis paying each payer its subsidy, so the payers can send at once."""
    links: list[Link] = []
    tip = genesis_link(params)
    for payer in payers:
        links += extend(params, tip, 1, miner=payer.address_digest)
        tip = links[-1]
    return links


def pay(
    sender: PrivateKey,
    recipient: bytes,
    amount: int,
    nonce: int,
    fee: int = 1000,
    params: NetworkParams = REGTEST,
    memo: bytes = b"",
) -> Transaction:
    return make_payment(sender, params.network_id, recipient, amount, fee, nonce, memo)


def paid_line(
    params: NetworkParams,
    parent: Link,
    count: int,
    payers: Sequence[PrivateKey],
    nonces: dict[bytes, int],
    per_block: int,
    *,
    to: bytes,
    amount: int = 1000,
    tag: bytes = b"",
    miner: bytes = MINER,
) -> list[Link]:
    """`count` blocks on `parent`, each with `per_block` payments to `to` from `payers` in turn.

    `nonces` holds each payer's next nonce (by address) and is updated, so a second
    line can continue where the first stopped or start again from a fork point's copy.
    """
    out: list[Link] = []
    turn = 0
    for _ in range(count):
        txs = []
        for _ in range(per_block):
            payer = payers[turn % len(payers)]
            turn += 1
            nonce = nonces.get(payer.address_digest, 0)
            txs.append(pay(payer, to, amount, nonce, params=params))
            nonces[payer.address_digest] = nonce + 1
        parent = make_block(params, parent, txs, memo=tag, miner=miner)
        out.append(parent)
    return out


def open_chain(where: Path | str, params: NetworkParams = REGTEST) -> ChainState:
    """The chain in directory `where` (SQLite), or at `where` itself when it is a
    postgresql:// URL or a file path ending in .sqlite3 (the store fixtures' `chain_db`)."""
    if isinstance(where, Path) and where.suffix != ".sqlite3":
        where = where / "chain.sqlite3"
    return ChainState(open_store(where, params.name), params)


def import_all(chain: ChainState, links: Iterable[Link]) -> None:
    """Import blocks that must all be accepted; fail loudly otherwise."""
    for link in links:
        result = chain.process_block(link.block, now=link.time)
        assert result.status in ("connected", "side-branch"), (result.status, result.error)


def replay_state(
    params: NetworkParams, blocks: Iterable[Block], path: Path | str
) -> dict[bytes, tuple[int, int]]:
    """Accounts after importing `blocks` (genesis excluded) in order into a fresh store
    (a file path or a postgresql:// URL)."""
    chain = ChainState(open_store(path, params.name), params)
    try:
        for block in blocks:
            result = chain.process_block(block, now=block.header.time)
            assert result.status == "connected", (result.status, result.error)
        return accounts(chain.store)
    finally:
        chain.store.close()


def accounts(store: Store) -> dict[bytes, tuple[int, int]]:
    return {a: (b, n) for a, b, n in store.account_rows()}


def active_blocks(chain: ChainState) -> list[Block]:
    """Blocks of the active chain from height 1 up to the tip."""
    out = []
    for _, h in chain.store.chain_hashes(1, chain.tip.height):
        data = chain.store.get_block_data(h)
        assert data is not None
        out.append(Block.decode(data))
    return out


async def template_block(ledger: Ledger, to: bytes, memo: bytes = b"") -> Block:
    """The ledger's own block template (with its mempool), mined but not submitted."""
    tpl = await ledger.block_template(to, memo)
    return Block(grind(tpl.header), tpl.txs)


async def mine_on(
    ledger: Ledger, to: bytes = MINER, memo: bytes = b"", source: str | None = "test"
) -> Block:
    """Mine the ledger's template and submit it; it must connect."""
    block = await template_block(ledger, to, memo)
    result = await ledger.submit_block(block, source=source)
    assert result.status == "connected", result
    return block


async def wait_for(
    cond: Callable[[], bool],
    what: str,
    limit: float = 30.0,
    *,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    interval: float = 0.02,
) -> None:
    """Poll until `cond()` holds; fail naming `what` after `limit` seconds.

    `pause` lets a Textual test yield through `pilot.pause`, so the app keeps
    running (and redrawing) while the test waits.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pause(interval)
