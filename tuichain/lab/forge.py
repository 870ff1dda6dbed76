"""The lab's own blocks, built by the project's consensus code on a copy of a node's headers.

`Forge` keeps a private header chain (a `ChainState` in a SQLite file of its own)
filled from a node's REST headers; a new block's bits, its median-time-past floor
and its coinbase come from the same code every node runs, so a block the lab forges
is exactly as valid as it claims, except for the one field a scenario breaks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from ..core.block import Block, BlockHeader
from ..core.chainstate import ChainState
from ..core.merkle import merkle_root
from ..core.pow import hash_meets_target, median_time_past, target_from_bits, work_from_bits
from ..core.store import HeaderEntry, open_store
from ..core.tx import Transaction, make_coinbase
from .base import LabError
from .client import Lab

LAB_MINER = bytes([0x1A]) * 20  # the lab's coinbase address: nobody's key


def grind(header: BlockHeader) -> BlockHeader:
    """The first nonce whose hash meets the header's own target (lab difficulties only)."""
    target = target_from_bits(header.bits)
    nonce = 0
    while not hash_meets_target(header.with_nonce(nonce).hash, target):
        nonce += 1
    return header.with_nonce(nonce)


class Forge:
    def __init__(self, lab: Lab, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "forge.sqlite3"
        path.unlink(missing_ok=True)
        for extra in ("-wal", "-shm"):
            path.with_name(path.name + extra).unlink(missing_ok=True)
        self.params = lab.params
        self.chain = ChainState(open_store(path, lab.params.name), lab.params)

    @classmethod
    async def of(cls, lab: Lab, k: int, directory: Path) -> Forge:
        """A forge holding node k's active headers up to its tip."""
        forge = cls(lab, directory)
        height = int((await lab.status(k))["height"])
        start = 1
        while start <= height:
            page = await lab.headers(k, start, 500)
            if not page:
                break
            result = forge.chain.process_headers(page, now=page[-1].time)
            if result.error is not None:
                raise LabError(f"node{k}'s headers do not check out: {result.error.reason}")
            start += len(page)
        return forge

    def close(self) -> None:
        self.chain.store.close()

    def entry(self, block_hash: bytes) -> HeaderEntry:
        e = self.chain.entry(block_hash)
        if e is None:
            raise LabError(f"the forge does not know block {block_hash[::-1].hex()}")
        return e

    def median_time(self, block_hash: bytes) -> int:
        """The median of the last 11 block times up to this block: a child must be later."""
        return median_time_past(self.chain.previous_times(self.entry(block_hash)))

    def chainwork(self, block_hash: bytes) -> int:
        return self.entry(block_hash).chainwork

    async def block_on(
        self, parent_hash: bytes, *, when: int | None = None, bits: int | None = None,
        txs: Sequence[Transaction] = (), memo: bytes = b"", keep: bool = True,
    ) -> Block:
        """A mined block on `parent_hash`: the required bits and a valid time unless given.

        `keep` adds its header to the forge, so the next block can build on it."""
        parent = self.entry(parent_hash)
        height = parent.height + 1
        floor = self.median_time(parent_hash) + 1
        stamp = max(int(time.time()), floor) if when is None else when
        fees = sum(tx.fee for tx in txs)
        coinbase = make_coinbase(self.params.network_id, LAB_MINER,
                                 self.params.subsidy(height) + fees, height, memo)
        all_txs = (coinbase, *txs)
        header = BlockHeader(1, parent.hash, merkle_root([t.txid for t in all_txs]), stamp,
                             self.chain.expected_bits(parent) if bits is None else bits, 0)
        block = Block(await asyncio.to_thread(grind, header), all_txs)
        if keep:
            result = self.chain.process_headers([block.header], now=stamp)
            if result.error is not None:
                raise LabError(f"the forged block does not check out: {result.error.reason}")
        return block

    def work(self, block: Block) -> int:
        return work_from_bits(block.header.bits)
