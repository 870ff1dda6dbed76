"""Short text forms of chain data for the explorer, peers and log screens.

Times are shown in UTC so every machine (and every snapshot) renders the same
text for the same block.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..core.hashing import hash_to_hex


def short_hash(h: bytes, head: int = 12, tail: int = 4) -> str:
    """Display hex (byte-reversed, leading zeros first) cut in the middle."""
    text = hash_to_hex(h)
    return f"{text[:head]}…{text[-tail:]}"


def short_text(text: str, head: int = 10, tail: int = 6) -> str:
    if len(text) <= head + tail + 1:
        return text
    return f"{text[:head]}…{text[-tail:]}"


def utc_time(ts: float, with_date: bool = True) -> str:
    fmt = "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S"
    return datetime.fromtimestamp(ts, UTC).strftime(fmt)


def leading_zero_bits(value: int) -> int:
    return 256 - value.bit_length()


def format_work(work: int) -> str:
    """Chainwork as a compact number: exact when small, scientific when huge."""
    return f"{work:,}" if work < 10**12 else f"{work:.3e}"


def format_size(n: int) -> str:
    if n < 10_000:
        return f"{n} B"
    if n < 10_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"
