"""The one payment pre-check: each rule, its code and its words."""

from __future__ import annotations

import pytest

from tuichain.core.errors import ValidationError
from tuichain.core.payment import check_payment
from tuichain.core.rejections import Code

ME, YOU = bytes([1]) * 20, bytes([2]) * 20
OK = {"amount": 100, "fee": 10, "available": 110, "recipient": YOU, "own_address": ME}


def test_a_payment_within_the_balance_passes() -> None:
    check_payment(**OK)  # type: ignore[arg-type]
    check_payment(**{**OK, "fee": 0, "available": 100})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"amount": 0}, Code.BAD_AMOUNT, "amount must be more than zero"),
        ({"amount": -5}, Code.BAD_AMOUNT, "amount must be more than zero"),
        ({"fee": -1}, Code.BAD_FEE, "fee cannot be negative"),
        ({"recipient": ME}, Code.OWN_ADDRESS, "the recipient is this wallet's own address"),
        (
            {"available": 109},
            Code.INSUFFICIENT_FUNDS,
            "amount plus fee is 0.0000011 but only 0.00000109 is available",
        ),
    ],
    ids=["zero", "negative", "negative-fee", "own-address", "over-balance"],
)
def test_each_rule_refuses_with_its_code_and_words(
    change: dict[str, int | bytes], code: Code, words: str
) -> None:
    with pytest.raises(ValidationError) as info:
        check_payment(**{**OK, **change})  # type: ignore[arg-type]
    assert info.value.code is code
    assert info.value.reason == words
