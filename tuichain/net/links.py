"""The link filter a devnet sets on each node: which peers are cut off, which links are slow.

A devnet partition is enforced by the nodes themselves (see docs/architecture.md,
"The network lab"): every node is told, through its control channel, the proven
node ids of the nodes on the other side. Its peer manager then closes those
connections, never dials them and refuses them after the handshake, so no
message crosses; a delay makes the peer's writer hold each outgoing message
that long. Per-link counters (per remote node id, summed over every
connection to it) let a test or a person see that nothing crossed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_DELAY = 60.0  # seconds: more than this is a cut, not a delay


class LinkFilterError(ValueError):
    """A filter document that does not say what it must."""


@dataclass(frozen=True)
class LinkFilter:
    """Whom this node may not talk to (node id -> its URL, if known) and each link's delay."""

    blocked: dict[str, str | None] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)  # node id -> seconds

    @property
    def partitioned(self) -> bool:
        return bool(self.blocked)

    def cuts(self, node_id: str) -> bool:
        return node_id in self.blocked

    def cuts_url(self, url: str) -> bool:
        return url in self.blocked.values()

    def delay(self, node_id: str) -> float:
        return self.delays.get(node_id, 0.0)

    def as_json(self) -> dict[str, Any]:
        return {
            "blocked": [{"node_id": k, "url": v} for k, v in sorted(self.blocked.items())],
            "delays": [{"node_id": k, "ms": round(v * 1000)}
                       for k, v in sorted(self.delays.items())],
        }

    @classmethod
    def from_json(cls, doc: Any) -> LinkFilter:
        """{"blocked": [{"node_id", "url"?}], "delays": [{"node_id", "ms"}]}; both optional."""
        if not isinstance(doc, dict):
            raise LinkFilterError("the filter must be a JSON object")
        blocked: dict[str, str | None] = {}
        for item in _items(doc, "blocked"):
            url = item.get("url")
            if url is not None and not isinstance(url, str):
                raise LinkFilterError("blocked[].url must be a string")
            blocked[_node_id(item)] = url
        delays: dict[str, float] = {}
        for item in _items(doc, "delays"):
            ms = item.get("ms")
            if isinstance(ms, bool) or not isinstance(ms, int | float):
                raise LinkFilterError("delays[].ms must be a number of milliseconds")
            if not 0 <= ms <= MAX_DELAY * 1000:
                raise LinkFilterError(f"delays[].ms must be from 0 to {MAX_DELAY * 1000:.0f}")
            if ms:
                delays[_node_id(item)] = ms / 1000
        return cls(blocked, delays)


def _items(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = doc.get(name, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise LinkFilterError(f"{name} must be a list of objects")
    return items


def _node_id(item: dict[str, Any]) -> str:
    node_id = item.get("node_id")
    if not isinstance(node_id, str) or not node_id:
        raise LinkFilterError("node_id must be a node id (hex)")
    try:
        bytes.fromhex(node_id)
    except ValueError:
        raise LinkFilterError(f"node_id {node_id!r} is not hex") from None
    return node_id


@dataclass
class LinkTally:
    """Messages and bytes each way on one link, over every connection it ever had."""

    messages_sent: int = 0
    messages_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    def add(self, messages_sent: int, messages_received: int, bytes_sent: int,
            bytes_received: int) -> None:
        self.messages_sent += messages_sent
        self.messages_received += messages_received
        self.bytes_sent += bytes_sent
        self.bytes_received += bytes_received

    def plus(self, other: LinkTally) -> LinkTally:
        total = LinkTally(self.messages_sent, self.messages_received, self.bytes_sent,
                          self.bytes_received)
        total.add(other.messages_sent, other.messages_received, other.bytes_sent,
                  other.bytes_received)
        return total


@dataclass(frozen=True)
class LinkState:
    """One link as `GET /control/links` shows it."""

    node_id: str
    url: str | None
    up: bool
    cut: bool
    delay: float
    tally: LinkTally

    def as_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "url": self.url, "up": self.up, "cut": self.cut,
            "delay_ms": round(self.delay * 1000),
            "messages_sent": self.tally.messages_sent,
            "messages_received": self.tally.messages_received,
            "bytes_sent": self.tally.bytes_sent, "bytes_received": self.tally.bytes_received,
        }


@dataclass(frozen=True)
class SplitReport:
    """What a heal did to this node: how deep its reorg went, which payments moved."""

    fork_height: int
    disconnected: int
    connected: int
    changes: list[tuple[str, str]]  # (txid hex, what became of it)

    def text(self) -> str:
        head = (f"split-brain healed: reorg from height {self.fork_height}, "
                f"{self.disconnected} block(s) disconnected, {self.connected} connected")
        if not self.changes:
            return head + "; no payment changed status"
        moved = "; ".join(f"tx {txid[:16]} {what}" for txid, what in self.changes)
        return f"{head}; {moved}"

    def as_json(self) -> dict[str, Any]:
        return {
            "fork_height": self.fork_height, "disconnected": self.disconnected,
            "connected": self.connected, "text": self.text(),
            "changes": [{"txid": t, "status": w} for t, w in self.changes],
        }


def describe_changes(lost: dict[str, bool], won: set[str]) -> list[tuple[str, str]]:
    """lost: txids of the disconnected blocks -> back in the mempool; won: txids connected."""
    changes = []
    for txid, pooled in sorted(lost.items()):
        if txid in won:
            continue  # confirmed on both sides: still confirmed, only in another block
        changes.append((txid, "was confirmed on the losing side, now back in the mempool"
                        if pooled else "was confirmed on the losing side, now refused "
                        "(its nonce or funds were spent on the winning side)"))
    changes += [(t, "confirmed by the winning side") for t in sorted(won - set(lost))]
    return changes
