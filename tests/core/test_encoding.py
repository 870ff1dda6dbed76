"""Canonical encodings: round trips, strict rejection, tamper evidence."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuichain.core.block import HEADER_SIZE, Block, BlockHeader
from tuichain.core.errors import DecodeError
from tuichain.core.keys import PrivateKey, verify
from tuichain.core.params import DEFAULT, REGTEST
from tuichain.core.tx import (
    BASE_SIZE,
    MAX_MEMO,
    Transaction,
    make_coinbase,
    make_payment,
)

from .encodingfixtures import FEW, SETTINGS

U32 = 2**32 - 1
U64 = 2**64 - 1
# Offsets in a transaction's encoding (see tx._FIXED): network id, sender,
# recipient, amount, fee, nonce, then the memo length byte, memo, signature.
SENDER = range(4, 36)
MEMO_LEN_OFFSET = 4 + 32 + 20 + 8 + 8 + 8

u32s = st.integers(0, U32)
u64s = st.integers(0, U64)
hashes = st.binary(min_size=32, max_size=32)
memos = st.binary(max_size=MAX_MEMO)
seeds = st.binary(min_size=32, max_size=32)

transactions = st.builds(
    Transaction,
    network_id=u32s,
    sender=st.binary(min_size=32, max_size=32),
    recipient=st.binary(min_size=20, max_size=20),
    amount=u64s,
    fee=u64s,
    nonce=u64s,
    memo=memos,
    signature=st.binary(min_size=64, max_size=64),
)
headers = st.builds(
    BlockHeader,
    version=u32s,
    prev_hash=hashes,
    merkle_root=hashes,
    time=u32s,
    bits=u32s,
    nonce=u32s,
)
blocks = st.builds(Block, header=headers, txs=st.lists(transactions, max_size=4).map(tuple))


@st.composite
def signed_transactions(draw: st.DrawFn) -> tuple[PrivateKey, Transaction]:
    key = PrivateKey(draw(seeds))
    tx = make_payment(
        key,
        draw(u32s),
        draw(st.binary(min_size=20, max_size=20)),
        draw(u64s),
        draw(u64s),
        draw(u64s),
        draw(memos),
    )
    return key, tx


def _sample_block() -> Block:
    key = PrivateKey(bytes(range(32)))
    coinbase = make_coinbase(REGTEST.network_id, key.address_digest, 50 * 10**8, 7, b"cb")
    pay = make_payment(key, REGTEST.network_id, bytes(20), 12345, 100, 0, b"x" * MAX_MEMO)
    pay2 = make_payment(key, REGTEST.network_id, bytes(range(20)), 1, 1, 1)
    header = BlockHeader(1, bytes(32), bytes(32), 1_795_046_400, REGTEST.pow_limit_bits, 42)
    header = BlockHeader(
        1,
        bytes(32),
        Block(header, (coinbase, pay, pay2)).computed_merkle_root(),
        1_795_046_400,
        REGTEST.pow_limit_bits,
        42,
    )
    return Block(header, (coinbase, pay, pay2))


# --- round trips -------------------------------------------------------------


@SETTINGS
@given(transactions)
def test_transaction_round_trip(tx: Transaction) -> None:
    data = tx.encoded
    assert len(data) == BASE_SIZE + len(tx.memo) == tx.size
    back = Transaction.decode(data)
    assert back == tx
    assert back.encoded == data
    assert back.txid == tx.txid
    assert back.signing_digest() == tx.signing_digest()


@SETTINGS
@given(headers)
def test_header_round_trip(header: BlockHeader) -> None:
    assert len(header.encoded) == HEADER_SIZE
    back = BlockHeader.decode(header.encoded)
    assert back == header
    assert back.hash == header.hash


@FEW
@given(blocks)
def test_block_round_trip(block: Block) -> None:
    back = Block.decode(block.encoded)
    assert back == block
    assert back.encoded == block.encoded
    assert back.hash == block.hash
    assert back.txids == block.txids


def test_extreme_values_round_trip() -> None:
    tx = Transaction(U32, b"\xff" * 32, b"\xff" * 20, U64, U64, U64, b"\xff" * 80, b"\xff" * 64)
    assert Transaction.decode(tx.encoded) == tx
    zero = Transaction(0, bytes(32), bytes(20), 0, 0, 0)
    assert Transaction.decode(zero.encoded) == zero
    header = BlockHeader(U32, b"\xff" * 32, b"\xff" * 32, U32, U32, U32)
    assert BlockHeader.decode(header.encoded) == header


# --- decoded objects: what the decoder keeps is what the fields give ----------
# The decoder keeps the bytes it read as the encoding and hashes them at once, skipping
# the constructor's checks. Rebuilt through the constructor from the decoded fields,
# every object must come out the same: same encoding, same hashes, no check failing.


def _rebuilt_tx(tx: Transaction) -> Transaction:
    return Transaction(tx.network_id, tx.sender, tx.recipient, tx.amount, tx.fee, tx.nonce,
                       tx.memo, tx.signature)


def _exact_types(obj: object) -> None:
    for name, value in vars(obj).items():
        assert type(value) in (bytes, int, tuple, list, BlockHeader), (name, type(value))


@SETTINGS
@given(transactions)
def test_decoded_transaction_keeps_what_its_fields_give(tx: Transaction) -> None:
    back = Transaction.decode(memoryview(bytearray(tx.encoded)))
    rebuilt = _rebuilt_tx(back)
    assert rebuilt.encoded == back.encoded
    assert rebuilt.txid == back.txid == tx.txid
    assert rebuilt.sender_address == back.sender_address
    _exact_types(back)


@FEW
@given(blocks)
def test_decoded_block_keeps_what_its_fields_give(block: Block) -> None:
    back = Block.decode(memoryview(bytearray(block.encoded)))
    h = back.header
    rebuilt = Block(BlockHeader(h.version, h.prev_hash, h.merkle_root, h.time, h.bits, h.nonce),
                    tuple(_rebuilt_tx(tx) for tx in back.txs))
    assert rebuilt.encoded == back.encoded
    assert rebuilt.hash == back.hash == block.hash
    assert rebuilt.txids == back.txids
    for obj in (back, back.header, *back.txs):
        _exact_types(obj)


def test_cached_values_are_computed_once_per_object() -> None:
    from tuichain.core.lazy import cached

    calls: list[int] = []

    class Thing:
        def __init__(self, n: int) -> None:
            self.n = n

        @cached
        def doubled(self) -> int:
            calls.append(self.n)
            return self.n * 2

    a, b = Thing(1), Thing(2)
    assert (a.doubled, a.doubled, b.doubled) == (2, 2, 4)
    assert calls == [1, 2]
    assert isinstance(Thing.doubled, cached)


# --- strict rejection: truncation and extension ------------------------------


@FEW
@given(transactions)
def test_transaction_any_truncation_rejected(tx: Transaction) -> None:
    data = tx.encoded
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            Transaction.decode(data[:cut])


@SETTINGS
@given(transactions, st.binary(min_size=1, max_size=200))
def test_transaction_any_extension_rejected(tx: Transaction, extra: bytes) -> None:
    with pytest.raises(DecodeError):
        Transaction.decode(tx.encoded + extra)


@FEW
@given(blocks)
def test_block_any_truncation_rejected(block: Block) -> None:
    data = block.encoded
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            Block.decode(data[:cut])


@SETTINGS
@given(blocks, st.binary(min_size=1, max_size=200))
def test_block_any_extension_rejected(block: Block, extra: bytes) -> None:
    with pytest.raises(DecodeError):
        Block.decode(block.encoded + extra)


def test_sample_block_every_truncation_and_extension() -> None:
    block = _sample_block()
    data = block.encoded
    assert Block.decode(data) == block
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            Block.decode(data[:cut])
    for extra in (b"\x00", b"\x00" * 145, block.txs[1].encoded):
        with pytest.raises(DecodeError):
            Block.decode(data + extra)


@pytest.mark.parametrize("size", [0, 1, 79, 81, 160])
def test_header_wrong_size_rejected(size: int) -> None:
    with pytest.raises(DecodeError):
        BlockHeader.decode(bytes(size))


@pytest.mark.parametrize("count", [4, 5, 2**31, U32])
def test_block_count_beyond_data_rejected(count: int) -> None:
    block = _sample_block()
    assert len(block.txs) < count
    data = block.header.encoded + struct.pack("<I", count)
    data += b"".join(tx.encoded for tx in block.txs)
    with pytest.raises(DecodeError):
        Block.decode(data)


def test_memo_length_byte_over_limit_rejected() -> None:
    tx = Transaction(1, bytes(32), bytes(20), 1, 0, 0, b"m" * MAX_MEMO)
    data = bytearray(tx.encoded)
    assert data[MEMO_LEN_OFFSET] == MAX_MEMO
    # Claim 81 memo bytes and really supply them: well-framed but over the limit.
    data[MEMO_LEN_OFFSET] = MAX_MEMO + 1
    data[MEMO_LEN_OFFSET + 1 : MEMO_LEN_OFFSET + 1] = b"m"
    with pytest.raises(DecodeError):
        Transaction.decode(bytes(data))


# --- tamper evidence of signed transactions ---------------------------------


def _check_flip(tx: Transaction, pos: int, mask: int) -> None:
    """Flip one byte of a signed tx's encoding; it must not stay valid.

    Thinking it through, byte by byte:
    - the memo length byte is the only position where decoding fails: any
      other length mis-frames the fixed-size rest (truncated or trailing bytes);
    - every other field accepts any value, so the flipped bytes decode, to a
      transaction whose canonical encoding IS the flipped bytes, hence a new txid;
    - a flip in network id, recipient, amounts, nonce or memo changes the
      signing digest; a flip in the sender changes the key (possibly to an
      invalid point, which verify() reports as False);
    - a flip in the signature leaves the signing digest unchanged (the
      signature does not sign itself); it must still fail because Ed25519
      signatures are not malleable (RFC 8032 checks S < L and R is hashed).
    So there is no exception: every flip either fails to decode or yields a
    different txid with a signature that no longer verifies.
    """
    data = bytearray(tx.encoded)
    data[pos] ^= mask
    flipped = bytes(data)
    try:
        other = Transaction.decode(flipped)
    except DecodeError:
        assert pos == MEMO_LEN_OFFSET, f"byte {pos} flip did not decode"
        return
    assert pos != MEMO_LEN_OFFSET, "a changed memo length must not decode"
    assert other.encoded == flipped  # canonical: decode/encode is the identity
    assert other.txid != tx.txid
    if pos >= len(data) - 64:
        assert other.signing_digest() == tx.signing_digest()
        assert other.signature != tx.signature
    else:
        assert other.signing_digest() != tx.signing_digest()
    assert not verify(other.sender, other.signing_digest(), other.signature), f"byte {pos}"


@pytest.mark.parametrize(
    "memo", [b"", b"hello", b"\x00" * MAX_MEMO], ids=["no-memo", "memo", "max-memo"]
)
def test_every_byte_flip_of_signed_tx_detected(memo: bytes) -> None:
    key = PrivateKey(bytes(range(1, 33)))
    tx = make_payment(key, DEFAULT.network_id, bytes(range(20)), 5 * 10**8, 1000, 3, memo)
    assert verify(tx.sender, tx.signing_digest(), tx.signature)
    for pos in range(len(tx.encoded)):
        for mask in (0x01, 0x80, 0xFF):
            _check_flip(tx, pos, mask)


@SETTINGS
@given(signed_transactions(), st.data())
def test_random_byte_flip_of_signed_tx_detected(
    signed: tuple[PrivateKey, Transaction], data: st.DataObject
) -> None:
    key, tx = signed
    assert tx.sender == key.public_key
    assert verify(tx.sender, tx.signing_digest(), tx.signature)
    pos = data.draw(st.integers(0, len(tx.encoded) - 1), label="pos")
    mask = data.draw(st.integers(1, 255), label="mask")
    _check_flip(tx, pos, mask)


def test_signed_requires_matching_key() -> None:
    key, other = PrivateKey(bytes(32)), PrivateKey(b"\x01" * 32)
    unsigned = Transaction(1, key.public_key, bytes(20), 1, 0, 0)
    with pytest.raises(ValueError, match="key"):
        unsigned.signed(other)


# --- out-of-range constructor values ----------------------------------------

_GOOD_TX = {
    "network_id": 1,
    "sender": bytes(32),
    "recipient": bytes(20),
    "amount": 1,
    "fee": 0,
    "nonce": 0,
    "memo": b"",
    "signature": bytes(64),
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("network_id", -1),
        ("network_id", U32 + 1),
        ("amount", -1),
        ("amount", U64 + 1),
        ("amount", 1.0),
        ("amount", True),
        ("amount", "1"),
        ("fee", -1),
        ("fee", U64 + 1),
        ("nonce", -1),
        ("nonce", U64 + 1),
        ("memo", b"m" * (MAX_MEMO + 1)),
        ("memo", "text"),
        ("memo", bytearray(b"m")),
        ("sender", bytes(31)),
        ("sender", bytes(33)),
        ("sender", "00" * 32),
        ("recipient", bytes(19)),
        ("recipient", bytes(21)),
        ("recipient", bytes(32)),
        ("signature", bytes(63)),
        ("signature", bytes(65)),
        ("signature", b""),
    ],
)
def test_transaction_out_of_range_rejected(field: str, value: object) -> None:
    with pytest.raises(DecodeError):
        Transaction(**{**_GOOD_TX, field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", U64),
        ("fee", U64),
        ("nonce", U64),
        ("network_id", U32),
        ("memo", b"m" * MAX_MEMO),
        ("amount", 0),
    ],
)
def test_transaction_boundary_values_accepted(field: str, value: object) -> None:
    tx = Transaction(**{**_GOOD_TX, field: value})  # type: ignore[arg-type]
    assert Transaction.decode(tx.encoded) == tx


_GOOD_HEADER = {
    "version": 1,
    "prev_hash": bytes(32),
    "merkle_root": bytes(32),
    "time": 0,
    "bits": 0x207FFFFF,
    "nonce": 0,
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", -1),
        ("version", U32 + 1),
        ("time", -1),
        ("time", U32 + 1),
        ("bits", U32 + 1),
        ("nonce", U32 + 1),
        ("nonce", -1),
        ("prev_hash", bytes(31)),
        ("prev_hash", bytes(33)),
        ("merkle_root", bytes(20)),
    ],
)
def test_header_out_of_range_rejected(field: str, value: object) -> None:
    with pytest.raises(DecodeError):
        BlockHeader(**{**_GOOD_HEADER, field: value})  # type: ignore[arg-type]
