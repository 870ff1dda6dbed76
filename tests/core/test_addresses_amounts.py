"""Bech32 addresses and amount parsing: round trips, typo detection, strict rejection."""

from __future__ import annotations

import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tuichain.core.amounts import format_amount, parse_amount
from tuichain.core.errors import AddressError, AmountError
from tuichain.core.keys import PrivateKey, address_digest, decode_address, encode_address
from tuichain.core.params import DEFAULT, REGTEST

from .encodingfixtures import FEW, SETTINGS

# --- addresses ---------------------------------------------------------------

hrps = st.sampled_from([DEFAULT.hrp, REGTEST.hrp])
digests = st.binary(min_size=20, max_size=20)
# Every character a person might type by mistake in a lower-case address.
TYPO_ALPHABET = string.ascii_lowercase + string.digits


@SETTINGS
@given(hrps, digests)
def test_address_round_trip(hrp: str, digest: bytes) -> None:
    text = encode_address(hrp, digest)
    assert text.startswith(hrp + "1")
    assert decode_address(hrp, text) == digest
    assert decode_address(hrp, text.upper()) == digest  # Bech32 allows all upper case
    assert decode_address(hrp, f"  {text}\n") == digest


@FEW
@given(hrps, digests)
@example(REGTEST.hrp, bytes(20))
@example(DEFAULT.hrp, b"\xff" * 20)
def test_address_single_character_typo_detected(hrp: str, digest: bytes) -> None:
    text = encode_address(hrp, digest)
    for i, original in enumerate(text):
        for c in TYPO_ALPHABET:
            if c == original:
                continue
            typo = text[:i] + c + text[i + 1 :]
            with pytest.raises(AddressError):
                decode_address(hrp, typo)
        # Mixed case is refused too.
        if original.isalpha():
            with pytest.raises(AddressError):
                decode_address(hrp, text[:i] + original.upper() + text[i + 1 :])


@FEW
@given(hrps, digests)
def test_address_deleted_or_inserted_character_detected(hrp: str, digest: bytes) -> None:
    text = encode_address(hrp, digest)
    for i in range(len(text)):
        with pytest.raises(AddressError):
            decode_address(hrp, text[:i] + text[i + 1 :])
    for i in range(len(text) + 1):
        with pytest.raises(AddressError):
            decode_address(hrp, text[:i] + "q" + text[i:])


@FEW
@given(digests)
def test_address_wrong_hrp_refused(digest: bytes) -> None:
    for mine, theirs in ((DEFAULT.hrp, REGTEST.hrp), (REGTEST.hrp, DEFAULT.hrp)):
        text = encode_address(theirs, digest)
        with pytest.raises(AddressError, match="prefix"):
            decode_address(mine, text)


@pytest.mark.parametrize("size", [0, 19, 21, 32])
def test_address_wrong_payload_length_refused(size: int) -> None:
    text = encode_address(REGTEST.hrp, bytes(size))
    with pytest.raises(AddressError):
        decode_address(REGTEST.hrp, text)


@pytest.mark.parametrize("text", ["", "   ", "tcrt", "tcrt1", "1qqqqqqqq", "tcrt1qqqqqb"])
def test_address_garbage_refused(text: str) -> None:
    with pytest.raises(AddressError):
        decode_address(REGTEST.hrp, text)


def test_address_of_key() -> None:
    key = PrivateKey(bytes(range(32)))
    assert key.address_digest == address_digest(key.public_key)
    assert len(key.address_digest) == 20
    text = encode_address(DEFAULT.hrp, key.address_digest)
    assert decode_address(DEFAULT.hrp, text) == key.address_digest


# --- amounts -----------------------------------------------------------------

MAX_UNITS = 2**63 - 1  # parse_amount refuses 2**63 and above


@settings(max_examples=200, deadline=None)
@given(st.integers(1, MAX_UNITS))
@example(1)
@example(10**8)
@example(DEFAULT.max_money)
@example(MAX_UNITS)
def test_amount_round_trip(units: int) -> None:
    assert parse_amount(format_amount(units)) == units
    assert parse_amount(format_amount(units, trim=False)) == units


def test_amount_format_examples() -> None:
    assert format_amount(150_000_000) == "1.5"
    assert format_amount(150_000_000, trim=False) == "1.50000000"
    assert format_amount(1) == "0.00000001"
    assert format_amount(10**8) == "1"
    assert format_amount(0) == "0"
    assert parse_amount("0", allow_zero=True) == 0
    assert parse_amount("1_000") == 1000 * 10**8
    assert parse_amount(" 2.5 ") == 250_000_000


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "-1",
        "-0.00000001",
        "1e5",
        "1E5",
        "abc",
        "0",
        "-0",
        "0.000000000",
        "1.000000001",
        "0.000000001",
        "nan",
        "NaN",
        "-nan",
        "inf",
        "-inf",
        "Infinity",
        "1,5",
        "0x10",
        "1 2",
        str(2**63 // 10**8 + 1),
        format_amount(2**63),
    ],
)
def test_amount_bad_inputs_refused(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text)


# Inputs that once slipped past parse_amount (exponent forms, rounding).
def test_amount_plus_inf_refused() -> None:
    with pytest.raises(AmountError):
        parse_amount("+inf")


def test_amount_non_ascii_digits_refused() -> None:
    with pytest.raises(AmountError):
        parse_amount("\u0661")


def test_amount_snan_refused() -> None:
    with pytest.raises(AmountError):
        parse_amount("sNaN")


@pytest.mark.parametrize(
    "text", ["1.0000000000000000000000000001", "0.99999999999999999999999999999"]
)
def test_amount_excess_places_hidden_by_rounding_refused(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text)
