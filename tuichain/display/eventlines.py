"""One short line of text per node event, for the log screen (and anything else that lists them)."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

from ..core.amounts import format_amount
from ..core.events import (
    BlockFound,
    BlockRejected,
    MinerUpdate,
    NewTip,
    PeersChanged,
    Reorg,
    TxAccepted,
    TxRejected,
    WalletChanged,
)
from ..messages import NodeEvent, NodeFailure, NodeStart
from .chaintext import short_hash, short_text, utc_time
from .plural import plural

LEVEL_STYLE = {
    "DEBUG": "dim",
    "INFO": "",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold red",
}
LEVEL_TAG = {"DEBUG": "dbg", "INFO": "info", "WARNING": "WARN", "ERROR": "ERR", "CRITICAL": "CRIT"}


def _from(source: str | None) -> str:
    return f" from {source}" if source else ""


def describe(event: NodeEvent, address: Callable[[bytes], str]) -> tuple[str, str] | None:
    """(level, text) for an event, or None for events the log leaves out."""
    # Miner progress ticks several times a second and would bury everything else.
    if isinstance(event, MinerUpdate):
        return None
    if isinstance(event, NewTip):
        return "INFO", (
            f"new tip {event.height}  {short_hash(event.hash)}  "
            f"({plural(event.txs, 'tx')})"
        )
    if isinstance(event, Reorg):
        return "WARNING", (
            f"reorg at height {event.fork_height}: {plural(len(event.disconnected), 'block')} "
            f"out, {len(event.connected)} in, tip "
            f"{short_hash(event.new_tip)}"
        )
    if isinstance(event, BlockRejected):
        return "WARNING", (
            f"block {short_hash(event.hash)} rejected{_from(event.source)}: {event.reason}"
        )
    if isinstance(event, TxAccepted):
        return "INFO", (
            f"tx {short_hash(event.txid)} {format_amount(event.amount)} to "
            f"{short_text(address(event.recipient))}{_from(event.source)}"
        )
    if isinstance(event, TxRejected):
        return "WARNING", (
            f"tx {short_hash(event.txid)} rejected{_from(event.source)}: {event.reason}"
        )
    if isinstance(event, BlockFound):
        return "INFO", (
            f"mined block {event.height}  {short_hash(event.hash)}  reward "
            f"{format_amount(event.reward)}"
        )
    if isinstance(event, PeersChanged):
        detail = f": {event.detail}" if event.detail else ""
        return "INFO", f"peers {event.count}{detail}"
    if isinstance(event, WalletChanged):
        return "INFO", f"wallet {'locked' if event.locked else 'ready'}: {event.address}"
    if isinstance(event, NodeStart):
        return "INFO", f"node started, listening on port {event.port}"
    if isinstance(event, NodeFailure):
        return "ERROR", f"node failed: {event.reason}"
    return str(event.level).upper(), str(event.message)


def event_line(when: float, level: str, text: str) -> Text:
    line = Text(utc_time(when, with_date=False), style="dim")
    line.append(" ")
    line.append(f"{LEVEL_TAG.get(level, level[:4]):<4}", style=LEVEL_STYLE.get(level, "") or "cyan")
    line.append(" ")
    line.append(text, style=LEVEL_STYLE.get(level, ""))
    return line
