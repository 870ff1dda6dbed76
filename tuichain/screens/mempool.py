"""Open transactions: the mempool as a table, own transactions marked, details on Enter."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from .. import messages as msg
from ..actions import app_clock, app_node
from ..core.amounts import format_amount
from ..core.hashing import hash_to_hex
from ..display.chaintext import short_hash, short_text, utc_time
from ..display.units import format_age
from ..widgets.refresh import Refresher
from .explorer_details import TxScreen

if TYPE_CHECKING:
    from ..core.mempool import MempoolEntry
    from ..node import Node

AGE_REFRESH_SECONDS = 5.0
# Rows shown at most, oldest first: a full mempool is tens of thousands of entries, and
# a table row each took seconds of the screen's time on every refresh.
MAX_ROWS = 200


def tx_rows(node: Node, entry: MempoolEntry) -> list[tuple[str, str]]:
    """Every field of a pending transaction, for the details dialog."""
    tx = entry.tx
    memo = tx.memo.decode("utf-8", "replace") if tx.memo else ""
    return [
        ("Txid", tx.txid_hex),
        ("From", node.format_address(tx.sender_address)),
        ("To", node.format_address(tx.recipient)),
        ("Amount", format_amount(tx.amount)),
        ("Fee", f"{format_amount(tx.fee)}  ({entry.fee_rate:.1f} units/byte)"),
        ("Nonce", str(tx.nonce)),
        ("Memo", memo or "(none)"),
        ("Size", f"{tx.size} bytes"),
        ("Received", f"{utc_time(entry.added)} ({format_age(time.time() - entry.added)} ago)"),
        ("Network", f"{tx.network_id:#010x}"),
        ("Public key", tx.sender.hex()),
        ("Signature", tx.signature.hex()),
    ]


class MempoolScreen(Screen[None]):
    AUTO_FOCUS = "#mempool"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._refresher = Refresher(self, self._reload)
        self._entries: dict[str, MempoolEntry] = {}

    def compose(self) -> ComposeResult:
        yield Static("Open transactions: waiting to be mined", id="mempool-title")
        yield DataTable(id="mempool", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#mempool", DataTable)
        table.add_column(" ", key="mine", width=1)
        table.add_column("Txid", key="txid")
        table.add_column("From", key="from")
        table.add_column("To", key="to")
        table.add_column("Amount", key="amount")
        table.add_column("Fee", key="fee")
        table.add_column("Age", key="age")
        self.set_interval(AGE_REFRESH_SECONDS, self._refresher.request)
        self._refresher.request(now=True)

    @on(msg.NodeStarted)
    @on(msg.TxAccepted)
    @on(msg.NewTip)
    @on(msg.Reorg)
    def _node_message(self) -> None:
        self._refresher.request()

    def on_screen_resume(self) -> None:
        self._refresher.request()

    def action_reload(self) -> None:
        self._refresher.request(now=True)

    async def _reload(self) -> None:
        node = app_node(self.app)
        if node is None:
            return
        page = await node.ledger.mempool_page(MAX_ROWS)
        if not self.is_mounted:
            return
        me = node.wallet.address_digest if node.wallet is not None else None
        table = self.query_one("#mempool", DataTable)
        selected: str | None = None
        if table.row_count and table.cursor_row >= 0:
            try:
                selected = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
            except Exception:
                selected = None
        table.clear()
        self._entries = {}
        now = app_clock(self.app)()
        for entry in page.entries:
            tx = entry.tx
            key = hash_to_hex(tx.txid)
            self._entries[key] = entry
            mark = ""
            if me is not None and tx.sender_address == me:
                mark = "→"
            elif me is not None and tx.recipient == me:
                mark = "←"
            table.add_row(
                Text(mark, style="bold cyan"),
                short_hash(tx.txid, 8, 4),
                Text(
                    short_text(node.format_address(tx.sender_address), 9, 4),
                    style="bold" if mark == "→" else "",
                ),
                Text(
                    short_text(node.format_address(tx.recipient), 9, 4),
                    style="bold" if mark == "←" else "",
                ),
                Text(format_amount(tx.amount), justify="right"),
                Text(format_amount(tx.fee), justify="right"),
                format_age(now - entry.added),
                key=key,
            )
        if selected is not None and selected in self._entries:
            table.move_cursor(row=table.get_row_index(selected))
        shown = f", the oldest {MAX_ROWS} shown" if page.count > MAX_ROWS else ""
        title = (
            f"Open transactions: {page.count} waiting{shown}, fees "
            f"{format_amount(page.fees)}  [dim](→ yours, ← to you; Enter: details)"
            if page.count
            else "No open transactions: the next block has only its reward."
        )
        self.query_one("#mempool-title", Static).update(title)

    @on(DataTable.RowSelected, "#mempool")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._show(str(event.row_key.value))

    def _show(self, key: str) -> None:
        node = app_node(self.app)
        entry = self._entries.get(key)
        if node is None or entry is None:
            return
        self.app.push_screen(TxScreen(entry.tx.txid))
