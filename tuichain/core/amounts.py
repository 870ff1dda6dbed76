"""Exact conversion between decimal coin strings typed by people and integer units."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .errors import AmountError
from .params import COIN

DECIMALS = 8


def parse_amount(text: str, *, allow_zero: bool = False) -> int:
    """'1.5' -> 150_000_000 units. Refuses floats' pitfalls: no exponent, no excess digits."""
    s = text.strip().replace("_", "")
    if not s:
        raise AmountError("enter an amount")
    if any(c in s for c in "eE") or s.lower() in {"nan", "inf", "infinity", "-inf"}:
        raise AmountError(f"not a plain decimal amount: {text!r}")
    try:
        value = Decimal(s)
    except InvalidOperation:
        raise AmountError(f"not a number: {text!r}") from None
    if value.is_signed() and value != 0:
        raise AmountError("amount cannot be negative")
    units = value * COIN
    if units != units.to_integral_value():
        raise AmountError(f"at most {DECIMALS} decimal places")
    result = int(units)
    if result == 0 and not allow_zero:
        raise AmountError("amount must be more than zero")
    if result >= 1 << 63:
        raise AmountError("amount is too large")
    return result


def format_amount(units: int, *, trim: bool = True) -> str:
    """150_000_000 -> '1.5' (or '1.50000000' with trim=False)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), COIN)
    frac_s = f"{frac:0{DECIMALS}d}"
    if trim:
        frac_s = frac_s.rstrip("0")
    return f"{sign}{whole}" + (f".{frac_s}" if frac_s else "")
