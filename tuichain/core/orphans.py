"""Blocks whose parent has no body yet, held in memory until it arrives.

The pool is bounded by count and by bytes, in total and per peer, so a peer
sending large blocks on parents nobody has cannot grow the node's memory past
a stated figure. A peer over its own share loses its own oldest orphans first;
when the whole pool is over its bound, the newcomer's sender loses its own
before anyone else loses any, and only then do the oldest of the others go.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .block import Block
from .policy import DEFAULT_POLICY, Policy


@dataclass(frozen=True)
class Orphan:
    block: Block
    source: str | None  # the peer id it came from; None for local submissions
    requested: bool  # we asked for it: stored on connect even with less work than the tip
    size: int  # encoded bytes, what the pool's bounds count


class OrphanPool:
    def __init__(self, max_count: int = DEFAULT_POLICY.orphan_max_count,
                 max_bytes: int = DEFAULT_POLICY.orphan_max_bytes,
                 peer_max_bytes: int = DEFAULT_POLICY.orphan_peer_max_bytes) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.peer_max_bytes = peer_max_bytes
        self._entries: OrderedDict[bytes, Orphan] = OrderedDict()
        self._by_source: dict[str | None, int] = {}
        self.bytes = 0

    @classmethod
    def for_policy(cls, policy: Policy) -> OrphanPool:
        return cls(policy.orphan_max_count, policy.orphan_max_bytes,
                   policy.orphan_peer_max_bytes)

    def __contains__(self, block_hash: object) -> bool:
        return block_hash in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def source_bytes(self, source: str | None) -> int:
        return self._by_source.get(source, 0)

    def add(self, block: Block, source: str | None, requested: bool) -> bool:
        """Keep `block`, evicting to stay within the bounds; False if it alone is too big."""
        size = len(block.encoded)
        if block.hash in self._entries:
            return True
        if size > min(self.peer_max_bytes, self.max_bytes):
            return False
        while self.source_bytes(source) + size > self.peer_max_bytes:
            self._evict_oldest(source)
        while (self.bytes + size > self.max_bytes or len(self._entries) >= self.max_count):
            if not self._evict_oldest(source):
                self._evict_oldest(None, any_source=True)
        self._entries[block.hash] = Orphan(block, source, requested, size)
        self.bytes += size
        self._by_source[source] = self.source_bytes(source) + size
        return True

    def children(self, parent_hash: bytes) -> list[Orphan]:
        return [o for o in self._entries.values() if o.block.header.prev_hash == parent_hash]

    def pop(self, block_hash: bytes) -> Orphan:
        orphan = self._entries.pop(block_hash)
        self.bytes -= orphan.size
        left = self._by_source[orphan.source] - orphan.size
        if left:
            self._by_source[orphan.source] = left
        else:
            del self._by_source[orphan.source]
        return orphan

    def _evict_oldest(self, source: str | None, any_source: bool = False) -> bool:
        for h, orphan in self._entries.items():
            if any_source or orphan.source == source:
                self.pop(h)
                return True
        return False
