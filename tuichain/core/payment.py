"""The checks a wallet makes before it signs a payment, with the words every front end shows.

The node, the wallet screen and the wallet CLI all call `check_payment`, so a
payment one of them refuses is refused by the others in the same words.
"""

from __future__ import annotations

from .amounts import format_amount
from .errors import ValidationError
from .rejections import Code


def check_payment(*, amount: int, fee: int, available: int, recipient: bytes,
                  own_address: bytes) -> None:
    """Raise ValidationError for a payment that cannot or should not be sent."""
    if amount <= 0:
        raise ValidationError("amount must be more than zero", Code.BAD_AMOUNT)
    if fee < 0:
        raise ValidationError("fee cannot be negative", Code.BAD_FEE)
    if recipient == own_address:
        raise ValidationError("the recipient is this wallet's own address", Code.OWN_ADDRESS)
    if amount + fee > available:
        raise ValidationError(
            f"amount plus fee is {format_amount(amount + fee)} but only "
            f"{format_amount(available)} is available",
            Code.INSUFFICIENT_FUNDS,
        )
