"""Bitcoin's Merkle tree over txids (odd levels repeat their last hash), with proofs."""

from __future__ import annotations

from collections.abc import Sequence

from .hashing import sha256d


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    if len(level) % 2:
        level = [*level, level[-1]]
    return [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    level = list(leaves)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from leaf to root; the index's bits say which side each is on."""
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index out of range")
    branch: list[bytes] = []
    level = list(leaves)
    i = index
    while len(level) > 1:
        sibling = i ^ 1
        branch.append(level[sibling] if sibling < len(level) else level[i])
        level = _next_level(level)
        i //= 2
    return branch


def verify_proof(leaf: bytes, index: int, branch: Sequence[bytes], root: bytes) -> bool:
    if index < 0 or index >> len(branch):
        return False
    h = leaf
    for depth, sibling in enumerate(branch):
        h = sha256d(sibling + h) if (index >> depth) & 1 else sha256d(h + sibling)
    return h == root
