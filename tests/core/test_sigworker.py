"""The signature worker process answers what `keys.verify` says, one byte a
transaction in order, and never guesses about bytes it cannot decode."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from tests.builders import key
from tuichain.core.keys import verify
from tuichain.core.params import REGTEST
from tuichain.core.sigworker import (
    CHECKED_BAD,
    CHECKED_OK,
    FRAME,
    MAX_FRAME,
    UNCHECKED,
    request_frame,
)
from tuichain.core.tx import Transaction, make_payment

from .ed25519_rule import L

# Encodings of the identity and of a point of order 2: keys the rule refuses.
SMALL_ORDER_KEYS = [bytes([1]) + bytes(31), bytes(31) + bytes([0x80])]
NON_CANONICAL_KEY = bytes([0xFF] * 31) + bytes([0x7F])  # y = 2^255 - 1, not below p


def _edge_cases() -> list[Transaction]:
    good = [make_payment(key(n), REGTEST.network_id, bytes([n]) * 20, 5 + n, 1, n)
            for n in range(1, 6)]
    first = good[0]
    s = int.from_bytes(first.signature[32:], "little")
    malleated = first.signature[:32] + (s + L).to_bytes(32, "little")
    return [
        *good,
        dataclasses.replace(first, amount=first.amount + 1),  # signature of other fields
        dataclasses.replace(first, signature=malleated),  # S + L: same equation, refused
        *(dataclasses.replace(first, sender=k) for k in SMALL_ORDER_KEYS),
        dataclasses.replace(first, sender=NON_CANONICAL_KEY),
        dataclasses.replace(first, signature=bytes(64)),
    ]


def _ask(frames: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "tuichain.core.sigworker"], input=frames,
                          capture_output=True, timeout=60, check=False)


def _replies(out: bytes) -> list[bytes]:
    replies = []
    while out:
        (n,) = FRAME.unpack_from(out)
        replies.append(out[FRAME.size:FRAME.size + n])
        out = out[FRAME.size + n:]
    return replies


def test_the_worker_answers_each_transaction_as_the_rule_does_in_order() -> None:
    txs = _edge_cases()
    expected = bytes(CHECKED_OK if verify(t.sender, t.signing_digest(), t.signature)
                     else CHECKED_BAD for t in txs)
    assert expected.count(CHECKED_OK) == 5
    assert expected.count(CHECKED_BAD) == len(txs) - 5
    # Two requests on one pipe, the second the first reversed: answered in turn.
    done = _ask(request_frame([t.encoded for t in txs])
                + request_frame([t.encoded for t in reversed(txs)]))
    assert done.returncode == 0, done.stderr
    assert _replies(done.stdout) == [expected, expected[::-1]]


def test_bytes_that_do_not_decode_are_left_unchecked_not_refused() -> None:
    good = make_payment(key(1), REGTEST.network_id, bytes(20), 5, 1, 0)
    raw = bytearray(good.encoded)
    raw[4 + 32 + 20 + 24] = 200  # the memo's length byte: above the limit
    body = request_frame([good.encoded, bytes(raw), good.encoded[:-1]])
    # A last item whose length runs past the end of the frame.
    cut = body[FRAME.size:] + (500).to_bytes(2, "little") + b"xyz"
    done = _ask(FRAME.pack(len(cut)) + cut)
    assert done.returncode == 0, done.stderr
    assert _replies(done.stdout) == [bytes([CHECKED_OK, UNCHECKED, UNCHECKED, UNCHECKED])]


def test_a_frame_longer_than_the_limit_ends_the_worker_without_reading_it() -> None:
    good = make_payment(key(1), REGTEST.network_id, bytes(20), 5, 1, 0)
    done = _ask(request_frame([good.encoded]) + FRAME.pack(MAX_FRAME + 1) + b"x" * 100)
    assert done.returncode == 0, done.stderr
    assert _replies(done.stdout) == [bytes([CHECKED_OK])]
    # A request cut short by the pipe closing: no answer, and a clean exit.
    partial = request_frame([good.encoded])[:-10]
    done = _ask(partial)
    assert (done.returncode, done.stdout) == (0, b"")
