"""Peers: who this node talks to, and the keys to add, drop, ban, unban and resync.

The table is rebuilt from the peer manager on every PeersChanged event and on
a two-second timer (heights and latencies change without an event). Adding a
peer dials it in a worker, so an unreachable address never freezes the screen.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from .. import messages as msg
from ..actions import app_node
from ..display.chaintext import utc_time
from ..display.plural import plural
from ..net.addrbook import normalize_url
from ..widgets.focus import focus_at_once, typing
from ..widgets.inputs import TextBox

REFRESH_SECONDS = 2.0


def _latency(ms: float | None) -> str:
    return "–" if ms is None else f"{ms:.0f} ms"


def _error_text(exc: BaseException) -> str:
    text = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return str(text)


class PeersScreen(Screen[None]):
    AUTO_FOCUS = "#peers-table"
    DEFAULT_CSS = """
    PeersScreen #peers-title { height: 1; padding: 0 1; background: $boost; }
    PeersScreen #peers-url { height: 3; }
    PeersScreen #peers-table { height: 1fr; min-height: 4; }
    PeersScreen #bans-label { height: 1; padding: 0 1; background: $boost; }
    PeersScreen #bans-table { height: auto; max-height: 6; }
    PeersScreen #peers-msg { height: auto; max-height: 3; padding: 0 1; }
    PeersScreen #peers-msg.error { color: $error; }
    PeersScreen #peers-msg.ok { color: $success; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", priority=True),  # moves focus at once: widgets/focus.py
        Binding("d", "disconnect", "Drop"),
        Binding("b", "ban", "Ban"),
        Binding("u", "unban", "Unban"),
        Binding("r", "resolve", "Resolve"),
        Binding("escape", "leave_input", "Back to table", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Peers", id="peers-title")
        yield TextBox(
            placeholder="peer URL, e.g. http://127.0.0.1:5001 (a to type here, Enter connects)",
            id="peers-url",
        )
        table: DataTable[Any] = DataTable(id="peers-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("Address", "Dir", "Height", "Latency", "Score", "Node")
        yield table
        yield Label("Banned", id="bans-label")
        bans: DataTable[Any] = DataTable(id="bans-table", cursor_type="row")
        bans.add_columns("Key", "Until (UTC)", "Reason")
        yield bans
        yield Static("", id="peers-msg")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#peers-table", DataTable).focus()
        self.set_interval(REFRESH_SECONDS, self._tick)
        self.refresh_peers()

    def on_screen_resume(self) -> None:
        self.refresh_peers()

    def _tick(self) -> None:
        if self.is_current:
            self.refresh_peers()

    @on(msg.PeersChanged)
    @on(msg.NodeStarted)
    def _node_message(self) -> None:
        self.refresh_peers()

    # ---- display -----------------------------------------------------------
    def say(self, text: str, ok: bool = False) -> None:
        msg = self.query_one("#peers-msg", Static)
        msg.set_class(ok, "ok")
        msg.set_class(not ok, "error")
        msg.update(Text(text))

    def refresh_peers(self) -> None:
        """Rebuild both tables from the manager's in-memory state, keeping the cursors."""
        node = app_node(self.app)
        if node is None:
            return
        infos = sorted(node.net.peer_infos(), key=lambda p: (p.direction, p.url or p.peer_id))
        table = self.query_one("#peers-table", DataTable)
        keep = self._cursor_key(table)
        table.clear()
        for p in infos:
            table.add_row(
                p.url or f"(inbound {p.peer_id})",
                p.direction,
                p.height,
                _latency(p.latency_ms),
                p.score,
                p.node_id[:8],
                key=p.peer_id,
            )
        self._restore(table, keep)
        bans = self.query_one("#bans-table", DataTable)
        keep = self._cursor_key(bans)
        bans.clear()
        for b in node.net.ban_list():
            bans.add_row(b.key, utc_time(b.until), b.reason, key=b.key)
        self._restore(bans, keep)
        self.query_one("#bans-label", Label).update(
            f"Banned: {bans.row_count}"
            + ("  (u unbans the highlighted row)" if bans.row_count else "")
        )
        tip = node.ledger.tip
        height = tip.height if tip else 0
        self.query_one("#peers-title", Static).update(
            f"Peers: {len(infos) or 'none yet (a adds one)'}  ·  this node {node.listen_url}"
            f"  ·  height {height}"
        )

    @staticmethod
    def _cursor_key(table: DataTable[Any]) -> str | None:
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @staticmethod
    def _restore(table: DataTable[Any], key: str | None) -> None:
        if key is not None and key in table.rows:
            table.move_cursor(row=table.get_row_index(key))

    def _selected_peer(self) -> str | None:
        table = self.query_one("#peers-table", DataTable)
        key = self._cursor_key(table)
        if key is None:
            self.say("no peer selected: connect one with a first")
        return key

    # ---- actions -------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "add" and typing(self))

    def action_add(self) -> None:
        focus_at_once(self, self.query_one("#peers-url", Input))

    def action_leave_input(self) -> None:
        focus_at_once(self, self.query_one("#peers-table", DataTable))

    @on(Input.Submitted, "#peers-url")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.add_peer(event.value.strip())
        else:
            self.say("type a peer URL first, e.g. http://127.0.0.1:5001")

    @work(exclusive=True, group="peers-add", exit_on_error=False)
    async def add_peer(self, text: str) -> None:
        node = app_node(self.app)
        if node is None:
            self.say("the node is starting; try again in a moment")
            return
        try:
            url = normalize_url(text)
        except ValueError as exc:
            self.say(str(exc))
            return
        self.say(f"connecting to {url}…", ok=True)
        try:
            await node.net.connect(url)
        except Exception as exc:  # unreachable, refused, wrong network: the error says which
            self.say(_error_text(exc))
            return
        self.query_one("#peers-url", Input).value = ""
        focus_at_once(self, self.query_one("#peers-table", DataTable))
        self.say(f"connected to {url}", ok=True)
        remember = getattr(self.app, "remember_peer", None)
        if callable(remember):
            remember(url)
        self.refresh_peers()

    @work(exclusive=True, group="peers-action", exit_on_error=False)
    async def action_disconnect(self) -> None:
        node = app_node(self.app)
        peer_id = self._selected_peer()
        if node is None or peer_id is None:
            return
        try:
            await node.net.disconnect(peer_id)
        except Exception as exc:
            self.say(f"could not disconnect: {_error_text(exc)}")
            return
        self.say(f"disconnected {peer_id}", ok=True)
        self.refresh_peers()

    def action_ban(self) -> None:
        node = app_node(self.app)
        peer_id = self._selected_peer()
        if node is None or peer_id is None:
            return
        peer = node.net.peer(peer_id)
        if peer is None:
            self.say("that peer has already gone")
            self.refresh_peers()
            return
        key = peer.ban_key
        node.net.ban(key, reason="banned by the user")
        self.say(f"banned {key}; u on the Banned table lifts it", ok=True)
        self.refresh_peers()

    def action_unban(self) -> None:
        node = app_node(self.app)
        bans = self.query_one("#bans-table", DataTable)
        key = self._cursor_key(bans)
        if node is None:
            return
        if key is None:
            self.say("no bans to lift")
            return
        node.net.unban(key)
        self.say(f"unbanned {key}", ok=True)
        self.refresh_peers()

    @work(exclusive=True, group="peers-resolve", exit_on_error=False)
    async def action_resolve(self) -> None:
        node = app_node(self.app)
        if node is None:
            return
        self.say("asking peers for their best chain…", ok=True)
        try:
            asked = await node.net.sync_now()
        except Exception as exc:
            self.say(f"resolve conflicts failed: {_error_text(exc)}")
            return
        tip = node.ledger.tip
        height = tip.height if tip else 0
        if not asked:
            self.say("resolve conflicts: no peers to ask; add one with a")
        else:
            self.say(
                f"resolve conflicts: asked {plural(asked, 'peer')} for "
                f"headers; our height is {height}",
                ok=True,
            )
        self.refresh_peers()
