"""The verifier accepts and refuses exactly what the signature rule says, at its edges.

`ed25519_rule` states the rule in plain integers; each case here is built so
that the bare equation [S]B = R + [k]A holds (where that is the point), and the
rule still refuses it for the reason the case names.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuichain.core.keys import PrivateKey, verify

from . import ed25519_rule as rule

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "ed25519.json").read_text())

# The eight points of small order, by their canonical encodings (RFC 8032's
# curve: the identity, one point of order 2, two of order 4, four of order 8).
SMALL_ORDER = sorted(
    {
        rule.encode(rule.mul(j, t))
        for t in [rule.decode(bytes.fromhex(
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))]
        if t is not None
        for j in range(8)
    }
)


def _key(seed_byte: int) -> tuple[PrivateKey, int]:
    seed = hashlib.sha256(bytes([seed_byte])).digest()
    return PrivateKey(seed), rule.secret_scalar(seed)


def _sign_raw(a_bytes: bytes, r_point: rule.Point, scalar_of_k: int, message: bytes,
              r_secret: int) -> bytes:
    """A signature R || S with S = r + k*a (mod L) for a chosen R = [r]B (or any R)."""
    r_bytes = rule.encode(r_point)
    k = rule.challenge(r_bytes, a_bytes, message)
    s = (r_secret + k * scalar_of_k) % rule.L
    return r_bytes + s.to_bytes(32, "little")


def test_there_are_eight_small_order_points() -> None:
    assert len(SMALL_ORDER) == 8
    assert all(rule.small_order(rule.decode(e) or rule.BASE) for e in SMALL_ORDER)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_rfc8032_vectors_are_accepted(case: dict[str, str]) -> None:
    pk, msg, sig = (bytes.fromhex(case[k]) for k in ("public_key", "message", "signature"))
    assert rule.rule_accepts(pk, msg, sig)
    assert verify(pk, msg, sig)


def test_the_rfc8032_test_3_vector() -> None:
    # RFC 8032 section 7.1, TEST 3: a two-byte message.
    seed = bytes.fromhex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")
    pk = bytes.fromhex("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025")
    sig = bytes.fromhex(
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
    )
    assert PrivateKey(seed).public_key == pk
    assert PrivateKey(seed).sign(b"\xaf\x82") == sig
    assert verify(pk, b"\xaf\x82", sig)
    assert rule.rule_accepts(pk, b"\xaf\x82", sig)


@settings(max_examples=25, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=64))
def test_signing_is_rfc8032_signing(seed: bytes, message: bytes) -> None:
    """Keys sign through libsodium: the same public key and the same signature bytes
    as RFC 8032's algorithm written out in integers (the nonce r = SHA-512 of the
    seed hash's upper half and the message)."""
    h = hashlib.sha512(seed).digest()
    a = rule.secret_scalar(seed)
    public_key = rule.encode(rule.mul(a, rule.BASE))
    r = int.from_bytes(hashlib.sha512(h[32:] + message).digest(), "little") % rule.L
    expected = _sign_raw(public_key, rule.mul(r, rule.BASE), a, message, r)
    key = PrivateKey(seed)
    assert key.public_key == public_key
    assert key.sign(message) == expected


def test_a_malleated_s_is_refused() -> None:
    key, _ = _key(1)
    msg = b"pay 5 coins"
    sig = key.sign(msg)
    s = int.from_bytes(sig[32:], "little")
    malleated = sig[:32] + (s + rule.L).to_bytes(32, "little")
    assert rule.equation_holds(key.public_key, msg, malleated)  # same point, other encoding
    assert not rule.rule_accepts(key.public_key, msg, malleated)
    assert not verify(key.public_key, msg, malleated)
    assert verify(key.public_key, msg, sig)


@pytest.mark.parametrize("a_bytes", SMALL_ORDER, ids=lambda b: b.hex()[:8])
def test_a_small_order_public_key_is_refused_even_when_the_equation_holds(
    a_bytes: bytes,
) -> None:
    a = rule.decode(a_bytes)
    assert a is not None
    rng = random.Random(a_bytes)
    msg = b"anyone can sign for a small-order key"
    for _ in range(200):
        r = rng.randrange(1, rule.L)
        r_bytes = rule.encode(rule.mul(r, rule.BASE))
        k = rule.challenge(r_bytes, a_bytes, msg)
        if rule.same(rule.mul(k, a), rule.IDENTITY):  # [k]A vanishes: S = r works
            sig = r_bytes + r.to_bytes(32, "little")
            break
    else:
        pytest.fail("no r found with [k]A = identity")
    assert rule.equation_holds(a_bytes, msg, sig)
    assert not rule.rule_accepts(a_bytes, msg, sig)
    assert not verify(a_bytes, msg, sig)


@pytest.mark.parametrize("r_bytes", SMALL_ORDER, ids=lambda b: b.hex()[:8])
def test_a_small_order_r_is_refused_even_when_the_equation_holds(r_bytes: bytes) -> None:
    key, a = _key(2)
    msg = b"small-order R"
    r_point = rule.decode(r_bytes)
    assert r_point is not None
    # S = k*a makes [S]B = [k]A; the equation then needs R's torsion to vanish too,
    # so it holds exactly for the identity. The rule refuses every small-order R.
    k = rule.challenge(r_bytes, key.public_key, msg)
    sig = r_bytes + (k * a % rule.L).to_bytes(32, "little")
    if r_bytes == rule.encode(rule.IDENTITY):
        assert rule.equation_holds(key.public_key, msg, sig)
    assert not rule.rule_accepts(key.public_key, msg, sig)
    assert not verify(key.public_key, msg, sig)


@pytest.mark.parametrize("y", range(19))
def test_a_non_canonical_public_key_encoding_is_refused(y: int) -> None:
    # y + p still fits in 255 bits for y < 19: the same y, written non-canonically.
    encoded = (y + rule.P).to_bytes(32, "little")
    msg = b"non-canonical key"
    sig = _key(3)[0].sign(msg)
    assert rule.decode(encoded) is None
    assert not rule.rule_accepts(encoded, msg, sig)
    assert not verify(encoded, msg, sig)


def test_a_non_canonical_r_is_refused() -> None:
    # The identity as R, written as y = p + 1, with S = k*a: the equation holds for
    # the point it stands for, but R must be the canonical encoding.
    key, a = _key(4)
    msg = b"non-canonical R"
    r_bytes = (1 + rule.P).to_bytes(32, "little")
    k = rule.challenge(r_bytes, key.public_key, msg)
    sig = r_bytes + (k * a % rule.L).to_bytes(32, "little")
    assert not rule.rule_accepts(key.public_key, msg, sig)
    assert not verify(key.public_key, msg, sig)


def test_mixed_order_keys_follow_the_cofactorless_equation() -> None:
    # A = [a]B + T with T of order 8: a valid, large-order key. A signature made
    # with S = r + k*a holds under the cofactorless equation only when [k]T vanishes;
    # the rule (and so every node) accepts exactly those.
    t = rule.decode(bytes.fromhex(
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))
    assert t is not None
    _, a = _key(5)
    a_point = rule.add(rule.mul(a, rule.BASE), t)
    a_bytes = rule.encode(a_point)
    assert not rule.small_order(a_point)
    rng = random.Random(5)
    seen = {True: 0, False: 0}
    for i in range(64):
        msg = b"mixed %d" % i
        r = rng.randrange(1, rule.L)
        sig = _sign_raw(a_bytes, rule.mul(r, rule.BASE), a, msg, r)
        expected = rule.rule_accepts(a_bytes, msg, sig)
        assert verify(a_bytes, msg, sig) == expected
        seen[expected] += 1
    assert seen[True]
    assert seen[False]


def test_wrong_lengths_are_refused() -> None:
    key, _ = _key(6)
    sig = key.sign(b"m")
    assert not verify(key.public_key[:31], b"m", sig)
    assert not verify(key.public_key, b"m", sig[:63])
    assert not verify(key.public_key + b"\0", b"m", sig)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    msg=st.binary(max_size=64),
    flip=st.integers(min_value=-1, max_value=64 * 8 - 1),
)
def test_verifier_agrees_with_the_rule_on_random_and_damaged_signatures(
    seed: bytes, msg: bytes, flip: int
) -> None:
    key = PrivateKey(seed)
    sig = bytearray(key.sign(msg))
    if flip >= 0:
        sig[flip // 8] ^= 1 << (flip % 8)
    assert verify(key.public_key, msg, bytes(sig)) == rule.rule_accepts(
        key.public_key, msg, bytes(sig)
    )


@settings(max_examples=60, deadline=None)
@given(pk=st.binary(min_size=32, max_size=32), sig=st.binary(min_size=64, max_size=64))
def test_verifier_agrees_with_the_rule_on_arbitrary_bytes(pk: bytes, sig: bytes) -> None:
    assert verify(pk, b"x", sig) == rule.rule_accepts(pk, b"x", sig)
