"""Counted nouns: "1 confirmation", "2 confirmations", never "1 confirmations" or "2 block(s)"."""

from __future__ import annotations

# Nouns whose plural is not the singular plus "s".
IRREGULAR = {"tx": "txs", "is": "are", "hash": "hashes"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is exactly one."""
    if count == 1:
        return f"{count:,} {noun}"
    return f"{count:,} {many or IRREGULAR.get(noun, noun + 's')}"
