"""Deterministic regtest chains for UI tests: fixed keys, fixed block times, no miner process.

Blocks are built and submitted straight to a Ledger with timestamps one
minute apart from genesis, so hashes, heights and times are the same on every
run and every machine; that is what lets the snapshots compare exactly.
"""

from __future__ import annotations

from pathlib import Path

from tests.builders import block_on
from tuichain.core import wallet as keystore
from tuichain.core.block import Block
from tuichain.core.keys import PrivateKey
from tuichain.core.ledger import Ledger
from tuichain.core.params import COIN, REGTEST, NetworkParams
from tuichain.core.tx import Transaction, make_payment

KEY_A = PrivateKey(b"\x01" * 32)
KEY_B = PrivateKey(b"\x02" * 32)
SPACING = 60


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
    return block_on(
        params,
        prev.header,
        prev.height + 1,
        txs,
        time=prev.header.time + spacing,
        miner=miner,
        memo=memo,
    )


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
