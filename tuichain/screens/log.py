"""The node's log: one timed line per event, newest at the bottom, bounded."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from .. import messages as msg
from ..actions import app_clock, app_node
from ..display.eventlines import describe, event_line

MAX_LINES = 2000


class LogScreen(Screen[None]):
    AUTO_FOCUS = "#log-lines"
    DEFAULT_CSS = """
    LogScreen #log-title { height: 1; padding: 0 1; background: $boost; }
    LogScreen #log-lines { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("c", "clear", "Clear")]

    def __init__(self) -> None:
        super().__init__()
        self._replayed: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Static("Node log (UTC): blocks, transactions, peers, warnings", id="log-title")
        yield RichLog(id="log-lines", max_lines=MAX_LINES, wrap=True, min_width=20)
        yield Footer()

    def on_mount(self) -> None:
        # Lines from before this screen existed, if the app keeps them (newest last).
        # An event can be both replayed and already queued for this screen; keeping
        # the replayed ones for a moment keeps it from showing twice.
        for item in list(getattr(self.app, "recent_events", ())):
            when, event = item if isinstance(item, tuple) else (None, item)
            self._replayed.append(event)
            self.add_event(event, when)
        self.set_timer(2.0, self._replayed.clear)
        self.query_one(RichLog).focus()

    @on(msg.NodeMessage)
    def _node_message(self, message: msg.NodeMessage[msg.NodeEvent]) -> None:
        if any(message.event is seen for seen in self._replayed):
            return
        # Stamped by the app's clock (not the message's), so a frozen clock freezes the log.
        self.add_event(message.event)

    def add_event(self, event: msg.NodeEvent, when: float | None = None) -> None:
        node = app_node(self.app)
        if node is None:

            def address(digest: bytes) -> str:
                return digest.hex()
        else:
            address = node.format_address
        described = describe(event, address)
        if described is None:
            return
        level, text = described
        stamp = when if when is not None else app_clock(self.app)()
        self.query_one(RichLog).write(event_line(stamp, level, text))

    def action_clear(self) -> None:
        self.query_one(RichLog).clear()
