"""Transactions: one canonical encoding, a txid over it, a signature over the rest."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from .encoding import U32_MAX, U64_MAX, Reader, check_len, check_uint
from .errors import DecodeError
from .hashing import hash_to_hex, sha256d
from .keys import ADDRESS_LEN, PUBKEY_LEN, SIGNATURE_LEN, PrivateKey, address_digest
from .lazy import cached

MAX_MEMO = 80
SIGHASH_DOMAIN = b"tuichain/tx-signature/v1\x00"
COINBASE_SENDER = bytes(PUBKEY_LEN)
NO_SIGNATURE = bytes(SIGNATURE_LEN)
_FIXED = struct.Struct("<I32s20sQQQ")
# Encoded size without memo: fixed fields, memo length byte, signature.
BASE_SIZE = _FIXED.size + 1 + SIGNATURE_LEN
_MEMO_AT = _FIXED.size  # the memo's length byte


@dataclass(frozen=True)
class Transaction:
    """A transfer between accounts; a coinbase has an all-zero sender and signature.

    A coinbase's nonce is the block height it belongs to, which keeps every
    coinbase txid unique.
    """

    network_id: int
    sender: bytes
    recipient: bytes
    amount: int
    fee: int
    nonce: int
    memo: bytes = b""
    signature: bytes = field(default=NO_SIGNATURE)

    def __post_init__(self) -> None:
        check_uint("network id", self.network_id, U32_MAX)
        check_len("sender public key", self.sender, PUBKEY_LEN)
        check_len("recipient", self.recipient, ADDRESS_LEN)
        check_uint("amount", self.amount, U64_MAX)
        check_uint("fee", self.fee, U64_MAX)
        check_uint("nonce", self.nonce, U64_MAX)
        if not isinstance(self.memo, bytes) or len(self.memo) > MAX_MEMO:
            raise DecodeError(f"memo must be at most {MAX_MEMO} bytes")
        check_len("signature", self.signature, SIGNATURE_LEN)

    def _unsigned(self) -> bytes:
        return self.encoded[:-SIGNATURE_LEN]

    @cached
    def encoded(self) -> bytes:
        fixed = _FIXED.pack(
            self.network_id, self.sender, self.recipient, self.amount, self.fee, self.nonce
        )
        return fixed + bytes([len(self.memo)]) + self.memo + self.signature

    @cached
    def txid(self) -> bytes:
        return sha256d(self.encoded)

    @property
    def txid_hex(self) -> str:
        return hash_to_hex(self.txid)

    @property
    def size(self) -> int:
        return len(self.encoded)

    @property
    def is_coinbase(self) -> bool:
        return self.sender == COINBASE_SENDER

    @cached
    def sender_address(self) -> bytes:
        return address_digest(self.sender)

    def signing_digest(self) -> bytes:
        """What the signature commits to: every other field, under a domain tag."""
        return hashlib.sha256(SIGHASH_DOMAIN + self._unsigned()).digest()

    def signed(self, key: PrivateKey) -> Transaction:
        if key.public_key != self.sender:
            raise ValueError("key does not match the transaction's sender")
        return Transaction(
            self.network_id, self.sender, self.recipient, self.amount, self.fee,
            self.nonce, self.memo, key.sign(self.signing_digest()),
        )

    @classmethod
    def read(cls, r: Reader) -> Transaction:
        """The next transaction, keeping the bytes read as its encoding (every field has
        a fixed width or a length byte, so there is no other) and its txid over them.
        The widths put every field in range: only the memo's length is checked, and
        `__post_init__`'s checks are skipped (a sync decodes a million of these)."""
        head = r.take(_MEMO_AT + 1)
        memo_len = head[_MEMO_AT]
        if memo_len > MAX_MEMO:
            raise DecodeError(f"memo must be at most {MAX_MEMO} bytes")
        tail = r.take(memo_len + SIGNATURE_LEN)
        encoded = head + tail
        network_id, sender, recipient, amount, fee, nonce = _FIXED.unpack_from(head)
        tx = object.__new__(cls)
        tx.__dict__.update(network_id=network_id, sender=sender, recipient=recipient,
                           amount=amount, fee=fee, nonce=nonce, memo=tail[:memo_len],
                           signature=tail[memo_len:], encoded=encoded,
                           txid=sha256d(encoded))
        return tx

    @classmethod
    def decode(cls, data: bytes) -> Transaction:
        r = Reader(data)
        tx = cls.read(r)
        r.finish()
        return tx


def make_coinbase(network_id: int, recipient: bytes, amount: int, height: int,
                  memo: bytes = b"") -> Transaction:
    return Transaction(network_id, COINBASE_SENDER, recipient, amount, 0, height, memo)


def make_payment(key: PrivateKey, network_id: int, recipient: bytes, amount: int, fee: int,
                 nonce: int, memo: bytes = b"") -> Transaction:
    unsigned = Transaction(network_id, key.public_key, recipient, amount, fee, nonce, memo)
    return unsigned.signed(key)
