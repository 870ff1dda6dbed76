"""Hash functions and the byte-reversed display form Bitcoin uses for hashes."""

from __future__ import annotations

import hashlib


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def hash_to_hex(h: bytes) -> str:
    """Display form: byte-reversed, so proof-of-work hashes show leading zeros."""
    return h[::-1].hex()


def hex_to_hash(s: str) -> bytes:
    """Inverse of hash_to_hex; raises ValueError on anything but 64 hex digits."""
    if len(s) != 64:
        raise ValueError("a hash is 64 hex digits")
    return bytes.fromhex(s)[::-1]


def hash_to_int(h: bytes) -> int:
    """A hash read as a little-endian 256-bit number, the way targets compare."""
    return int.from_bytes(h, "little")
