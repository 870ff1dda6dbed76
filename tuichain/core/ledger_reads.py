"""What the ledger answers (tips, accounts, transactions, history, supply), and its
queries of the stored chain on the reader's own connection, never behind an import.

`StoreReads` is the Ledger's base: it holds the queries, the Ledger the threads and
connections they run on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .block import Block
from .hashing import sha256d
from .merkle import merkle_proof
from .params import NetworkParams
from .store import HeaderEntry, Store
from .tx import Transaction

T = TypeVar("T")


@dataclass(frozen=True)
class TipInfo:
    hash: bytes
    height: int
    time: int
    bits: int
    chainwork: int


@dataclass(frozen=True)
class AccountInfo:
    address: bytes
    balance: int
    nonce: int
    pending_delta: int
    next_nonce: int

    @property
    def available(self) -> int:
        """What can be spent now: confirmed balance less pending outgoing."""
        return self.balance + min(self.pending_delta, 0)


@dataclass(frozen=True)
class TxInfo:
    tx: Transaction
    block_hash: bytes | None
    height: int | None
    position: int | None
    confirmations: int
    proof: list[bytes]
    merkle_root: bytes | None
    in_mempool: bool


@dataclass(frozen=True)
class HistoryItem:
    txid: bytes
    height: int
    position: int
    tx: Transaction
    confirmations: int


@dataclass(frozen=True)
class SupplyInfo:
    """The conservation law at one tip: balances + unclaimed == issued."""

    height: int
    tip: bytes
    issued: int  # the subsidies of blocks 1..height
    balances: int  # the sum of every account's balance
    unclaimed: int  # subsidy and fees that coinbases did not claim: destroyed for good

    @property
    def conserved(self) -> bool:
        return self.balances + self.unclaimed == self.issued


def unclaimed_coins(block: Block, height: int, params: NetworkParams) -> int:
    return params.subsidy(height) + sum(tx.fee for tx in block.txs[1:]) - block.txs[0].amount


def tip_info(e: HeaderEntry) -> TipInfo:
    return TipInfo(e.hash, e.height, e.header.time, e.header.bits, e.chainwork)


class StoreReads:
    """The queries; the Ledger provides the reader connection and the rest below."""

    params: NetworkParams
    tip: TipInfo | None
    _unclaimed: dict[bytes, int]  # by block hash: a block's own never changes

    @property
    def rstore(self) -> Store:
        raise NotImplementedError

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def mempool_tx(self, txid: bytes) -> Transaction | None:
        raise NotImplementedError

    async def get_header(self, block_hash: bytes) -> HeaderEntry | None:
        return await self._read(self.rstore.get_header, block_hash)

    async def get_block(self, block_hash: bytes) -> Block | None:
        data = await self._read(self.rstore.get_block_data, block_hash)
        return None if data is None else Block.decode(data)

    async def get_block_data(self, block_hash: bytes) -> bytes | None:
        return await self._read(self.rstore.get_block_data, block_hash)

    async def servable_blocks(self, hashes: list[bytes]) -> dict[bytes, tuple[int, int, bytes]]:
        """(height, chainwork, stored body) of each hash we may serve: one read for a
        whole request, so a peer catching up costs one thread hop a window. A stored
        block that failed validation stays on disk, but serving it would get this node
        banned by whoever asked."""
        return await self._read(self.rstore.servable_blocks, hashes)

    async def hash_at(self, height: int) -> bytes | None:
        return await self._read(self.rstore.chain_hash, height)

    async def headers_range(self, start: int, count: int) -> list[HeaderEntry]:
        return await self._read(self.rstore.chain_headers, start, count)

    async def block_sizes(self, hashes: list[bytes]) -> dict[bytes, tuple[int, int]]:
        """(size in bytes, transaction count) of stored blocks, read without decoding them."""
        def read() -> dict[bytes, tuple[int, int]]:
            out: dict[bytes, tuple[int, int]] = {}
            for h in hashes:
                size = self.rstore.block_size(h)
                if size is not None:
                    out[h] = size
            return out
        return await self._read(read)

    async def header_bytes_after_locator(self, locator: list[bytes], stop: bytes | None,
                                         limit: int = 2000) -> list[bytes]:
        """The encoded headers of the active chain after the first locator hash on it
        (genesis if none is), up to `limit`, ending at `stop` if it comes first. As
        stored: a getheaders is answered without decoding them (2,000 decoded took
        10-11 ms of a catch-up's start, read as bytes 3 ms)."""
        def read() -> list[bytes]:
            start = 0
            for h in locator:
                e = self.rstore.get_header(h)
                if e is not None and self.rstore.chain_hash(e.height) == h:
                    start = e.height
                    break
            raws = self.rstore.chain_header_bytes(start + 1, limit)
            if stop is not None:
                for i, raw in enumerate(raws):
                    if sha256d(raw) == stop:
                        return raws[:i + 1]
            return raws
        return await self._read(read)

    async def find_prefix(self, prefix: str, limit: int = 2) -> tuple[list[bytes], list[bytes]]:
        """Block hashes and txids (confirmed or open) whose display hex starts with
        ``prefix``, up to ``limit`` of each: enough to tell unique from ambiguous."""

        def read() -> tuple[list[bytes], list[bytes]]:
            blocks = self.rstore.find_prefix("headers", prefix, limit)
            txids = self.rstore.find_prefix("txindex", prefix, limit)
            for txid in self.rstore.find_prefix("mempool", prefix, limit):
                if txid not in txids:
                    txids.append(txid)
            return blocks, txids[:limit]

        return await self._read(read)

    async def tx_info(self, txid: bytes) -> TxInfo | None:
        tip_height = self.tip.height if self.tip else 0

        def read() -> TxInfo | None:
            loc = self.rstore.tx_location(txid)
            if loc is None:
                return None
            block_hash, pos = loc
            data = self.rstore.get_block_data(block_hash)
            e = self.rstore.get_header(block_hash)
            if data is None or e is None:
                return None
            block = Block.decode(data)
            return TxInfo(block.txs[pos], block_hash, e.height, pos,
                          max(0, tip_height - e.height + 1), merkle_proof(block.txids, pos),
                          block.header.merkle_root, False)
        info = await self._read(read)
        if info is not None:
            return info
        tx = await self.mempool_tx(txid)
        if tx is None:
            # It may have left the mempool for a block between the two looks; the
            # mempool look ran on the writer thread, so that block is committed now.
            return await self._read(read)
        return TxInfo(tx, None, None, None, 0, [], None, True)

    async def history(self, address: bytes, limit: int = 50,
                      before_height: int | None = None) -> list[HistoryItem]:
        tip_height = self.tip.height if self.tip else 0

        def read() -> list[HistoryItem]:
            out = []
            blocks: dict[int, Block] = {}
            for height, pos in self.rstore.history(address, limit, before_height):
                if height not in blocks:
                    h = self.rstore.chain_hash(height)
                    data = self.rstore.get_block_data(h) if h else None
                    if data is None:
                        continue
                    blocks[height] = Block.decode(data)
                txs = blocks[height].txs
                if pos >= len(txs):
                    continue
                tx = txs[pos]
                out.append(HistoryItem(tx.txid, height, pos, tx, tip_height - height + 1))
            return out
        return await self._read(read)

    async def side_branches(self, limit: int = 20) -> list[tuple[HeaderEntry, int]]:
        """Tips of stored branches off the active chain with their fork height."""
        def read() -> list[tuple[HeaderEntry, int]]:
            out = []
            for h in self.rstore.branch_tips(limit):
                e = self.rstore.get_header(h)
                if e is None:
                    continue
                fork = e
                while self.rstore.chain_hash(fork.height) != fork.hash:
                    parent = self.rstore.get_header(fork.prev)
                    if parent is None:
                        break
                    fork = parent
                out.append((e, fork.height))
            return out
        return await self._read(read)

    async def supply(self) -> int:
        return await self._read(self.rstore.total_balance)

    async def supply_info(self) -> SupplyInfo:
        """Issued subsidy, balances and unclaimed coins, all read at one tip."""
        def read() -> SupplyInfo:
            store = self.rstore
            tip = store.tip_hash()
            entry = store.get_header(tip) if tip is not None else None
            assert entry is not None, "a ledger always has a tip"
            unclaimed = 0
            for height, h in store.chain_hashes(1, entry.height):
                amount = self._unclaimed.get(h)
                if amount is None:
                    data = store.get_block_data(h)
                    assert data is not None, "an active block without its body"
                    amount = self._unclaimed[h] = unclaimed_coins(Block.decode(data), height,
                                                                    self.params)
                unclaimed += amount
            return SupplyInfo(entry.height, entry.hash, self.params.supply_at(entry.height),
                              store.total_balance(), unclaimed)
        return await self._read(read)
