"""The rejection explainer: every refusal the node made lately, with the rule in plain words.

Enter on a row opens what was refused (a transaction or block) or, for a
peer's message or handshake, the peers screen.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from .. import messages as msg
from ..actions import app_node
from ..core.rejectlog import Rejection
from ..display.chaintext import short_text, utc_time
from .explorer_details import BlockScreen, TxScreen

SHOWN = 200
POLL = 1.0


def explain_text(entry: Rejection) -> Text:
    t = Text()
    what = entry.kind if entry.object_id is None else f"{entry.kind} {entry.object_id}"
    t.append(f"Refused {what}\n", style="bold")
    t.append("from   ", style="bold")
    t.append(f"{entry.source}\n")
    t.append("rule   ", style="bold")
    t.append(f"{entry.code}: {entry.explanation or entry.reason}\n")
    t.append("found  ", style="bold")
    t.append(entry.detail + "\n", style="red")
    if entry.detail != entry.reason:
        t.append("reason ", style="bold")
        t.append(entry.reason + "\n")
    return t


class RejectionsScreen(Screen[None]):
    AUTO_FOCUS = "#rejections"
    DEFAULT_CSS = """
    RejectionsScreen #rejections-title { height: 1; padding: 0 1; background: $boost; }
    RejectionsScreen #rejections { height: 1fr; }
    RejectionsScreen #rejection-detail { height: auto; max-height: 8; padding: 0 1;
        border-top: solid $accent; }
    """
    BINDINGS: ClassVar[list[BindingType]] = []

    def __init__(self) -> None:
        super().__init__()
        self._version = -1
        self._entries: dict[str, Rejection] = {}

    def compose(self) -> ComposeResult:
        yield Static("Refused lately, newest first (Enter opens it)", id="rejections-title")
        yield DataTable(id="rejections", cursor_type="row", zebra_stripes=True)
        yield Static("", id="rejection-detail")

    def on_mount(self) -> None:
        table = self.query_one("#rejections", DataTable)
        table.add_columns("Time (UTC)", "What", "From", "Code", "Found")
        self.set_interval(POLL, self.reload)
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    @on(msg.NodeMessage)
    def _node_message(self, message: msg.NodeMessage[msg.NodeEvent]) -> None:
        if isinstance(message, msg.TxRejected | msg.BlockRejected | msg.NodeStarted):
            self.call_later(self.reload)

    def reload(self) -> None:
        node = app_node(self.app)
        if node is None or node.rejections.version == self._version:
            return
        self._version = node.rejections.version
        table: DataTable[Any] = self.query_one("#rejections", DataTable)
        self._entries = {}
        table.clear()
        for i, entry in enumerate(node.rejections.recent(SHOWN)):
            key = str(i)
            self._entries[key] = entry
            what = entry.kind if entry.object_id is None else (
                f"{entry.kind[:5]} {entry.object_id[:10]}…")
            table.add_row(utc_time(entry.time, with_date=False), what,
                          short_text(entry.source, 14, 6), entry.code,
                          short_text(entry.detail, 24, 12), key=key)
        title = f"Refused lately: {len(node.rejections)}, newest first (Enter opens it)"
        if not self._entries:
            title = "Nothing refused yet: every transaction, block and message so far was valid"
        self.query_one("#rejections-title", Static).update(title)
        self._show_detail(0)

    def _show_detail(self, row: int) -> None:
        entry = self._entries.get(str(row))
        self.query_one("#rejection-detail", Static).update(
            explain_text(entry) if entry is not None else "")

    @on(DataTable.RowHighlighted, "#rejections")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    @on(DataTable.RowSelected, "#rejections")
    def _open(self, event: DataTable.RowSelected) -> None:
        entry = self._entries.get(str(event.row_key.value))
        if entry is None:
            return
        if entry.object_id is not None and entry.kind == "transaction":
            self.app.push_screen(TxScreen(bytes.fromhex(entry.object_id)[::-1]))
        elif entry.object_id is not None and entry.kind in ("block", "header"):
            self.app.push_screen(BlockScreen(bytes.fromhex(entry.object_id)[::-1]))
        else:
            self.app.switch_mode("peers")
