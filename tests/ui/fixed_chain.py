"""Deterministic regtest chains for UI tests: fixed keys, fixed block times, no miner process.

Blocks are built and submitted straight to a Ledger with timestamps one
minute apart from genesis, so hashes, heights and times are the same on every
run and every machine; that is what lets the snapshots compare exactly.
"""

from __future__ import annotations

from pathlib import Path

from tuichain.core import wallet as keystore
from tuichain.core.block import Block, BlockHeader
from tuichain.core.keys import PrivateKey
from tuichain.core.ledger import Ledger
from tuichain.core.merkle import merkle_root
from tuichain.core.params import COIN, REGTEST, NetworkParams
from tuichain.core.pow import hash_meets_target, target_from_bits
from tuichain.core.tx import Transaction, make_coinbase, make_payment

KEY_A = PrivateKey(b"\x01" * 32)
KEY_B = PrivateKey(b"\x02" * 32)
SPACING = 60


def solve(header: BlockHeader) -> BlockHeader:
    target = target_from_bits(header.bits)
    nonce = 0
    while not hash_meets_target(header.with_nonce(nonce).hash, target):
        nonce += 1
    return header.with_nonce(nonce)


async def next_block(
    ledger: Ledger,
    miner: bytes,
    txs: tuple[Transaction, ...] = (),
    params: NetworkParams = REGTEST,
    spacing: int = SPACING,
    parent: bytes | None = None,
    memo: bytes = b"",
) -> Block:
    """A valid block on ``parent`` (the tip by default) with a time ``spacing`` after it."""
    prev_hash = parent if parent is not None else ledger.tip.hash  # type: ignore[union-attr]
    prev = await ledger.get_header(prev_hash)
    assert prev is not None
    height = prev.height + 1
    fees = sum(tx.fee for tx in txs)
    coinbase = make_coinbase(params.network_id, miner, params.subsidy(height) + fees, height, memo)
    all_txs = (coinbase, *txs)
    header = BlockHeader(
        1,
        prev.hash,
        merkle_root([t.txid for t in all_txs]),
        prev.header.time + spacing,
        prev.header.bits,
        0,
    )
    return Block(solve(header), all_txs)


async def build_chain(
    data_dir: Path, blocks: int, *, payments: bool = True, params: NetworkParams = REGTEST
) -> None:
    """``blocks`` blocks mined by KEY_A; with ``payments``, block 3 carries two
    payments to KEY_B (so a block has 3 transactions and a real Merkle proof)."""
    ledger = await Ledger.open(data_dir, params)
    try:
        for i in range(blocks):
            txs: tuple[Transaction, ...] = ()
            if payments and i == 2:
                txs = tuple(
                    make_payment(
                        KEY_A, params.network_id, KEY_B.address_digest, (n + 1) * COIN, 10_000, n
                    )
                    for n in range(2)
                )
            block = await next_block(ledger, KEY_A.address_digest, txs, params)
            result = await ledger.submit_block(block, "test")
            assert result.status == "connected", result
    finally:
        await ledger.close()


def write_wallet(data_dir: Path, key: PrivateKey) -> str:
    """An unencrypted wallet with a fixed key; returns its address."""
    info, _ = keystore.create_wallet(data_dir, None, key=key)
    return info.address(REGTEST.hrp)
