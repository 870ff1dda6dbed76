"""What both store backends share: the header entry, status values, undo records and the
`Store` interface itself. The package re-exports all of it."""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from ..block import BlockHeader

# Header status values.
HEADER_ONLY = 1
HAVE_DATA = 2
INVALID = 3

URL_SCHEMES = ("postgresql", "postgres")

_UNDO = struct.Struct("<20sQQB")


def work_to_blob(work: int) -> bytes:
    """Chainwork as 32 big-endian bytes: byte order is number order, in either database."""
    return work.to_bytes(32, "big")


def blob_to_work(blob: bytes) -> int:
    return int.from_bytes(blob, "big")


@dataclass(frozen=True)
class HeaderEntry:
    hash: bytes
    prev: bytes
    height: int
    chainwork: int
    header: BlockHeader
    status: int


@dataclass
class RunRows:
    """The rows a run of blocks writes as it joins the active chain, one block after
    another from the tip: written together, one statement a table, since a sync connects
    thousands of blocks and a statement each costs more than the checks themselves."""

    headers: list[HeaderEntry]  # oldest first, each the child of the one before
    stored: set[bytes]  # those of `headers` already stored, header only (a sync's case)
    bodies: list[tuple[bytes, bytes]]  # (hash, encoded block)
    undo: list[tuple[bytes, bytes]]  # (hash, encoded undo record)
    txrows: list[tuple[bytes, bytes, int]]  # (txid, block hash, position)
    history: list[tuple[bytes, int, int, bytes]]  # (address, height, position, txid)
    accounts: dict[bytes, tuple[int, int]]  # every touched account's value after the run
    confirmed: list[bytes]  # payments of the run, gone from the stored mempool


def encode_undo(old: dict[bytes, tuple[int, int] | None]) -> bytes:
    parts = [struct.pack("<I", len(old))]
    for address, value in old.items():
        if value is None:
            parts.append(_UNDO.pack(address, 0, 0, 0))
        else:
            parts.append(_UNDO.pack(address, value[0], value[1], 1))
    return b"".join(parts)


def decode_undo(data: bytes) -> dict[bytes, tuple[int, int] | None]:
    (count,) = struct.unpack_from("<I", data)
    out: dict[bytes, tuple[int, int] | None] = {}
    for i in range(count):
        address, balance, nonce, existed = _UNDO.unpack_from(data, 4 + i * _UNDO.size)
        out[address] = (balance, nonce) if existed else None
    return out


# The tables a typed hex prefix is looked up in, and their hash column.
PREFIX_TABLES = {"headers": "hash", "txindex": "txid", "mempool": "txid"}
_HEX = "0123456789ABCDEF"


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """(low, high) such that the display-form hex strings starting with `prefix` are
    exactly those >= low and < high (no upper bound when the prefix is all F's)."""
    low = prefix.upper()
    if not low or any(c not in _HEX for c in low):
        raise ValueError("a prefix is hex digits")
    stem = low.rstrip("F")
    if not stem:
        return low, None
    # The first string after every one starting with `low`: bump the last digit
    # that is not F and drop the F's after it.
    return low, stem[:-1] + _HEX[_HEX.index(stem[-1]) + 1]


class Store(Protocol):
    """One connection to the chain's database. Not shared between threads: open one per
    thread (the ledger has a writer and a reader)."""

    # Where the chain lives, for messages: a path, or a URL without its password.
    label: str
    # The exceptions meaning "could not read or write now" (disk full, read-only,
    # connection lost): the transaction was rolled back, the same call can succeed later.
    transient: tuple[type[Exception], ...]
    # Set when the store had to reconnect: whatever the caller keeps about the
    # chain in memory may be behind what was committed (a commit whose answer was
    # lost). The caller reloads, then clears it.
    reconnected: bool

    def close(self) -> None: ...
    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside commit together or not at all. Nested inside another, a
        savepoint: its failure undoes only its own writes, and nothing is committed
        before the outermost one ends (a batch of blocks imported as one)."""
        ...
    def snapshot(self) -> AbstractContextManager[None]:
        """A read transaction: every query inside sees one committed state."""
        ...

    # meta
    def get_meta(self, key: str) -> bytes | None: ...
    def set_meta(self, key: str, value: bytes) -> None: ...

    # hex prefixes, as typed in the explorer: keys of `table` (one of PREFIX_TABLES)
    def find_prefix(self, table: str, prefix: str, limit: int = 2) -> list[bytes]: ...

    # headers and blocks
    def get_header(self, block_hash: bytes) -> HeaderEntry | None: ...
    def put_header(self, entry: HeaderEntry) -> None: ...
    def put_headers(self, entries: list[HeaderEntry]) -> None: ...
    def set_status(self, block_hash: bytes, status: int) -> None: ...
    def children(self, block_hash: bytes) -> list[bytes]: ...
    def best_with_data(self) -> HeaderEntry | None: ...
    def best_header(self) -> HeaderEntry | None: ...
    def fetchable_above(self, chainwork: int, limit: int, scan: int) -> list[bytes]:
        """Up to `limit` header-only blocks above `chainwork` whose parent has its body,
        lightest first, found among the `scan` lightest header-only blocks above it."""
        ...
    def branch_tips(self, limit: int) -> list[bytes]:
        """Stored headers with no child and off the active chain, most work first."""
        ...
    def put_block(self, block_hash: bytes, data: bytes) -> None: ...
    def get_block_data(self, block_hash: bytes) -> bytes | None: ...
    def servable_blocks(self, hashes: list[bytes]) -> dict[bytes, tuple[int, int, bytes]]:
        """(height, chainwork, body) of each of `hashes` stored and not known invalid:
        what a getdata answer needs, without building a header entry for each."""
        ...
    def block_size(self, block_hash: bytes) -> tuple[int, int] | None:
        """(size in bytes, transaction count) of a stored block, without reading it all."""
        ...

    # active chain
    def chain_hash(self, height: int) -> bytes | None: ...
    def chain_hashes(self, start: int, count: int) -> list[tuple[int, bytes]]: ...
    def chain_headers(self, start: int, count: int) -> list[HeaderEntry]:
        """The active chain's entries from height `start` on, up to `count`, in one query
        (a peer's getheaders asks for 2,000)."""
        ...
    def chain_header_bytes(self, start: int, count: int) -> list[bytes]:
        """As `chain_headers`, only the 80-byte encodings: what a getheaders answer
        sends, without building an entry for each (most of a 2,000-header read)."""
        ...
    def tip_hash(self) -> bytes | None: ...

    # state
    def account(self, address: bytes) -> tuple[int, int]: ...
    def accounts(self, addresses: Collection[bytes]) -> dict[bytes, tuple[int, int]]:
        """(balance, nonce) of those of `addresses` that exist, in one query or a few:
        a batch's reads one by one each paid a statement (and a GIL round trip)."""
        ...
    def account_exists(self, address: bytes) -> bool: ...
    def account_rows(self) -> Iterator[tuple[bytes, int, int]]:
        """Every account (address, balance, nonce): for audits and tests, not the node."""
        ...
    def write_accounts(self, values: dict[bytes, tuple[int, int] | None]) -> None: ...
    def total_balance(self) -> int: ...
    def connect(
        self, entry: HeaderEntry, new: dict[bytes, tuple[int, int]], undo: bytes,
        txrows: Iterable[tuple[bytes, int]], history: Iterable[tuple[bytes, int, bytes]],
    ) -> None:
        """Record a block joining the active chain (the caller holds the transaction)."""
        ...
    def connect_run(self, rows: RunRows) -> None:
        """Record a run of blocks joining the active chain, as `put_header`, `put_block`
        and `connect` block by block would (the caller holds the transaction)."""
        ...
    def disconnect(self, entry: HeaderEntry, txids: list[bytes],
                   addresses: Collection[bytes]) -> None:
        """Take the active tip `entry` off the chain: its accounts back from the undo
        data, its `txids` out of the txindex, the history rows of `addresses` (every
        account it touched) at its height."""
        ...

    # indexes
    def tx_location(self, txid: bytes) -> tuple[bytes, int] | None: ...
    def history(self, address: bytes, limit: int, before_height: int | None = None
                ) -> list[tuple[int, int]]:
        """(height, position) of the address's transactions on the active chain below
        `before_height`, newest first, at most `limit`."""
        ...

    # mempool persistence
    def mempool_put(self, txid: bytes, raw: bytes, added: float) -> None: ...
    def mempool_put_many(self, rows: list[tuple[bytes, bytes, float]]) -> None:
        """(txid, raw, added) rows, one statement for all."""
        ...
    def mempool_delete(self, txids: Iterable[bytes]) -> None: ...
    def mempool_all(self) -> list[tuple[bytes, float]]: ...


def redact(url: str) -> str:
    """The URL as it may be shown or logged: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
