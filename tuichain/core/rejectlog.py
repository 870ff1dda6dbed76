"""The last refusals this node made, each with the rule it applied in plain words.

A bounded ring buffer: what the rejection explainer (screen and
`GET /api/rejections`) lists. Each entry is also one line in node.log, so a
refusal older than the buffer can still be found there.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .rejections import EXPLANATIONS, Code

log = logging.getLogger("tuichain.rejections")

CAPACITY = 500
KINDS = ("transaction", "block", "header", "message", "peer")


def explain(code: str) -> str:
    """The registry's sentence for a code; codes outside it (a peer's own) get none."""
    try:
        return EXPLANATIONS[Code(code)]
    except ValueError:
        return ""


@dataclass(frozen=True)
class Rejection:
    time: float
    kind: str  # one of KINDS
    source: str  # "wallet", "rest", "miner", or the peer's URL
    object_id: str | None  # txid or block hash in display hex, when there is one
    code: str
    reason: str
    field: str | None = None
    value: str | None = None
    expected: str | None = None
    peer: str | None = None  # the peer's URL or id when a peer sent it

    @property
    def explanation(self) -> str:
        return explain(self.code)

    @property
    def detail(self) -> str:
        """ "nonce 5, expected 3": the field against what the rule allows, or the reason."""
        if self.field is None or self.value is None:
            return self.reason
        if self.expected is None:
            return f"{self.field} {self.value}"
        return f"{self.field} {self.value}, expected {self.expected}"

    def line(self) -> str:
        what = self.kind if self.object_id is None else f"{self.kind} {self.object_id}"
        return (f"refused {what} from {self.source}: {self.code}: {self.detail} "
                f"({self.explanation or self.reason})")

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time, "kind": self.kind, "source": self.source,
            "id": self.object_id, "code": self.code, "explanation": self.explanation,
            "reason": self.reason, "field": self.field, "value": self.value,
            "expected": self.expected, "peer": self.peer,
        }


class RejectLog:
    """Not thread-safe: fed and read on the event loop."""

    def __init__(self, capacity: int = CAPACITY,
                 clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: deque[Rejection] = deque(maxlen=capacity)
        self.version = 0  # bumps on every entry, so a screen redraws only on change

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, kind: str, source: str, object_id: str | None, code: str, reason: str,
               *, field: str | None = None, value: str | None = None,
               expected: str | None = None, peer: str | None = None,
               when: float | None = None) -> Rejection:
        entry = Rejection(self._clock() if when is None else when, kind, source, object_id,
                          str(code), reason, field, value, expected, peer)
        self._entries.append(entry)
        self.version += 1
        log.info("%s", entry.line())
        return entry

    def recent(self, limit: int | None = None) -> list[Rejection]:
        """Newest first."""
        out = list(reversed(self._entries))
        return out if limit is None else out[:limit]
