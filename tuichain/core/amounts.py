"""Exact conversion between decimal coin strings typed by people and integer units."""

from __future__ import annotations

import re

from .errors import AmountError
from .params import COIN

DECIMALS = 8
# ASCII digits only: Decimal() would also take other scripts' digits, exponents,
# NaN and infinities, and round excess places away in its context.
_AMOUNT = re.compile(r"(\d*)(?:\.(\d*))?", re.ASCII)


def parse_amount(text: str, *, allow_zero: bool = False) -> int:
    """'1.5' -> 150_000_000 units, exactly, or AmountError saying what is wrong."""
    s = text.strip().replace("_", "")
    if not s:
        raise AmountError("enter an amount")
    if s.startswith("-"):
        raise AmountError("amount cannot be negative")
    m = _AMOUNT.fullmatch(s)
    if m is None or not (m.group(1) or m.group(2)):
        raise AmountError(f"not a plain decimal amount: {text.strip()!r}")
    whole, frac = m.group(1) or "0", m.group(2) or ""
    if len(frac) > DECIMALS:
        raise AmountError(f"at most {DECIMALS} decimal places")
    if len(whole) > 12:
        raise AmountError("amount is too large")
    result = int(whole) * COIN + int(frac.ljust(DECIMALS, "0"))
    if result >= 1 << 63:
        raise AmountError("amount is too large")
    if result == 0 and not allow_zero:
        raise AmountError("amount must be more than zero")
    return result


def format_amount(units: int, *, trim: bool = True) -> str:
    """150_000_000 -> '1.5' (or '1.50000000' with trim=False)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), COIN)
    frac_s = f"{frac:0{DECIMALS}d}"
    if trim:
        frac_s = frac_s.rstrip("0")
    return f"{sign}{whole}" + (f".{frac_s}" if frac_s else "")
