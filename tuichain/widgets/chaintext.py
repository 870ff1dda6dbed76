"""Short text forms of chain data for the explorer, peers and log screens.

Times are shown in UTC so every machine (and every snapshot) renders the same
text for the same block. Screens ask the App for "now" through ``app_clock``:
an App may set a ``clock`` attribute (a callable returning epoch seconds) to
freeze what is displayed, which is how the snapshot tests stay deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from ..core.hashing import hash_to_hex

if TYPE_CHECKING:
    from textual.app import App

    from ..node import Node


def app_clock(app: App[Any]) -> Callable[[], float]:
    clock = getattr(app, "clock", None)
    return clock if callable(clock) else time.time


def app_node(app: App[Any]) -> Node | None:
    """The app's node once it is running; None while it starts or after it stopped."""
    node = getattr(app, "node", None)
    if node is None or not getattr(app, "node_ready", True):
        return None
    if getattr(node, "_ledger", None) is None or getattr(node, "_net", None) is None:
        return None
    return cast("Node", node)


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
