"""Block header (Bitcoin's 80-byte layout) and block: encoding and hashing."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .encoding import U32_MAX, Reader, check_len, check_uint
from .errors import DecodeError
from .hashing import hash_to_hex, sha256d
from .lazy import cached
from .merkle import merkle_root
from .tx import Transaction

HEADER_SIZE = 80
_HEADER = struct.Struct("<I32s32sIII")
# A count far beyond what fits in a block is rejected before reading on.
MAX_BLOCK_TXS = 100_000


@dataclass(frozen=True)
class BlockHeader:
    version: int
    prev_hash: bytes
    merkle_root: bytes
    time: int
    bits: int
    nonce: int

    def __post_init__(self) -> None:
        check_uint("version", self.version, U32_MAX)
        check_len("prev hash", self.prev_hash, 32)
        check_len("merkle root", self.merkle_root, 32)
        check_uint("time", self.time, U32_MAX)
        check_uint("bits", self.bits, U32_MAX)
        check_uint("nonce", self.nonce, U32_MAX)

    @cached
    def encoded(self) -> bytes:
        return _HEADER.pack(
            self.version, self.prev_hash, self.merkle_root, self.time, self.bits, self.nonce
        )

    @cached
    def hash(self) -> bytes:
        return sha256d(self.encoded)

    @property
    def hash_hex(self) -> str:
        return hash_to_hex(self.hash)

    @classmethod
    def decode(cls, data: bytes) -> BlockHeader:
        if len(data) != HEADER_SIZE:
            raise DecodeError(f"a header is {HEADER_SIZE} bytes, got {len(data)}")
        return cls.from_wire(bytes(data))

    @classmethod
    def from_wire(cls, raw: bytes) -> BlockHeader:
        """The header whose encoding is these 80 bytes, keeping them as its encoding and
        hashing them at once. The layout's fixed widths put every field in range, so
        `__post_init__`'s checks cannot fail and are skipped (a sync decodes thousands)."""
        header = object.__new__(cls)
        version, prev_hash, merkle, time, bits, nonce = _HEADER.unpack(raw)
        header.__dict__.update(version=version, prev_hash=prev_hash, merkle_root=merkle,
                               time=time, bits=bits, nonce=nonce, encoded=raw,
                               hash=sha256d(raw))
        return header

    def with_nonce(self, nonce: int, time: int | None = None) -> BlockHeader:
        return BlockHeader(self.version, self.prev_hash, self.merkle_root,
                           self.time if time is None else time, self.bits, nonce)


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    txs: tuple[Transaction, ...]

    @cached
    def encoded(self) -> bytes:
        parts = [self.header.encoded, struct.pack("<I", len(self.txs))]
        parts.extend(tx.encoded for tx in self.txs)
        return b"".join(parts)

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def hash_hex(self) -> str:
        return self.header.hash_hex

    @property
    def size(self) -> int:
        return len(self.encoded)

    @cached
    def txids(self) -> list[bytes]:
        return [tx.txid for tx in self.txs]

    def computed_merkle_root(self) -> bytes:
        return merkle_root(self.txids)

    @classmethod
    def decode(cls, data: bytes) -> Block:
        data = bytes(data)
        r = Reader(data)
        header = BlockHeader.from_wire(r.take(HEADER_SIZE))
        count = r.u32()
        if count > MAX_BLOCK_TXS or count * 145 > r.remaining:
            raise DecodeError(f"transaction count {count} does not fit the data")
        read = Transaction.read
        txs = tuple([read(r) for _ in range(count)])
        r.finish()
        block = cls(header, txs)
        # Every field has a fixed width, so the bytes read are the block's one encoding.
        block.__dict__["encoded"] = data
        return block
