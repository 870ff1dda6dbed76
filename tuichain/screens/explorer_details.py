"""Explorer detail views: a block, a transaction (with its Merkle proof checked), an address.

Each is a full-size modal over the explorer: Esc goes back, Enter on a row of
its table goes one level deeper. Everything is loaded in a worker from the
node's ledger; a failure is shown as a line on screen, never a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from ..actions import app_clock, app_node
from ..core.amounts import format_amount
from ..core.hashing import hash_to_hex, hash_to_int
from ..core.ledger import Ledger
from ..core.merkle import verify_proof
from ..core.pow import decode_compact
from ..core.tx import Transaction
from ..core.txlife import Timeline
from ..display.chaintext import format_size, leading_zero_bits, short_hash, short_text, utc_time
from ..display.plural import plural

if TYPE_CHECKING:
    from ..node import Node

LABEL = 9
LIFE_REFRESH = 0.5
KIND_STYLE = {
    "refused": "red", "dropped": "red", "evicted": "red", "replaced": "yellow",
    "disconnected": "yellow", "returned": "yellow", "included": "green", "confirmed": "green",
}


def life_text(t: Text, line: Timeline, now: float) -> None:
    """The timeline: one line an event, its UTC time, then what happened."""
    t.append("Life of this transaction\n", style="bold")
    for event in line.events:
        t.append(f" {utc_time(event.time, with_date=False)}  ", style="dim")
        t.append(event.text + "\n", style=KIND_STYLE.get(event.kind, ""))
    if not line.events:
        t.append(" nothing recorded yet\n", style="italic")


def _row(text: Text, label: str, value: str | Text, style: str = "") -> None:
    text.append(f"{label:<{LABEL}}", style="bold")
    text.append(value if isinstance(value, Text) else Text(value, style=style))
    text.append("\n")


class DetailScreen(ModalScreen[None]):
    """Shared frame: a titled box with a text body, an optional table and a message line."""

    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > #detail {
        width: 100%; height: 100%; border: round $accent; padding: 0 1;
        background: $surface;
    }
    DetailScreen #detail-scroll { height: 1fr; }
    DetailScreen.-with-table #detail-scroll { height: auto; max-height: 60%; }
    DetailScreen #detail-body { height: auto; }
    DetailScreen #detail-table { height: 1fr; min-height: 3; }
    DetailScreen #detail-msg { height: auto; color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Back")]
    TITLE_TEXT = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="detail"):
            with VerticalScroll(id="detail-scroll"):
                yield Static("loading…", id="detail-body")
            yield DataTable(id="detail-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="detail-msg")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail", Vertical).border_title = self.TITLE_TEXT
        self.query_one("#detail-table", DataTable).display = False
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)

    def show_error(self, text: str) -> None:
        self.query_one("#detail-msg", Static).update(Text(text))

    def node(self) -> Node:
        node = app_node(self.app)
        if node is None:
            raise RuntimeError("the node is not running")
        return node

    def load(self) -> None:
        self._load()

    @work(exclusive=True, group="detail", exit_on_error=False)
    async def _load(self) -> None:
        try:
            await self.fill(self.node())
        except Exception as exc:  # a person sees the reason; the app keeps running
            self.show_error(f"could not load: {exc}")

    async def fill(self, node: Node) -> None:
        raise NotImplementedError

    def table(self, *columns: str) -> DataTable[Any]:
        table: DataTable[Any] = self.query_one("#detail-table", DataTable)
        table.clear(columns=True)
        table.add_columns(*columns)
        table.display = True
        self.add_class("-with-table")
        return table


def _tx_parties(node: Node, tx: Transaction) -> tuple[str, str]:
    sender = "coinbase" if tx.is_coinbase else node.format_address(tx.sender_address)
    return sender, node.format_address(tx.recipient)


class BlockScreen(DetailScreen):
    """Header fields, the hash against its target, and the block's transactions."""

    TITLE_TEXT = "Block"

    def __init__(self, block_hash: bytes) -> None:
        super().__init__()
        self.block_hash = block_hash

    async def fill(self, node: Node) -> None:
        ledger: Ledger = node.ledger
        entry = await ledger.get_header(self.block_hash)
        if entry is None:
            self.query_one("#detail-body", Static).update("")
            self.show_error(f"block {hash_to_hex(self.block_hash)} is not known to this node")
            return
        block = await ledger.get_block(self.block_hash)
        on_chain = await ledger.hash_at(entry.height) == entry.hash
        h = entry.header
        target = decode_compact(h.bits).target
        value = hash_to_int(entry.hash)
        tip = ledger.tip.height if ledger.tip else entry.height
        self.query_one("#detail", Vertical).border_title = f"Block {entry.height}"
        t = Text()
        state = (
            f"active chain, {plural(tip - entry.height + 1, 'confirmation')}"
            if on_chain
            else "side branch (not on the active chain)"
        )
        _row(t, "status", state, "green" if on_chain else "yellow")
        _row(t, "hash", hash_to_hex(entry.hash), "bold")
        _row(t, "target", f"{target:064x}")
        ok = value <= target
        _row(
            t,
            "",
            Text(
                f"{'hash ≤ target ✓' if ok else 'hash above target ✗'}  "
                f"({leading_zero_bits(value)} leading zero bits; target needs "
                f"{leading_zero_bits(target)})",
                style="green" if ok else "red",
            ),
        )
        _row(t, "prev", hash_to_hex(h.prev_hash))
        _row(t, "merkle", hash_to_hex(h.merkle_root))
        _row(t, "time", f"{utc_time(h.time)} UTC  ({h.time})")
        _row(t, "bits", f"{h.bits:08x}   nonce {h.nonce}   version {h.version}")
        if block is None:
            _row(t, "body", "not downloaded yet (header only)", "yellow")
        else:
            n = len(block.txs)
            _row(t, "size", f"{format_size(block.size)}   {plural(n, 'transaction')}")
        self.query_one("#detail-body", Static).update(t)
        if block is None:
            return
        table = self.table("#", "txid", "to", "amount", "fee")
        for pos, tx in enumerate(block.txs):
            _, to = _tx_parties(node, tx)
            table.add_row(
                str(pos),
                short_hash(tx.txid),
                short_text(to),
                format_amount(tx.amount),
                format_amount(tx.fee),
                key=tx.txid.hex(),
            )
        table.focus()

    @on(DataTable.RowSelected, "#detail-table")
    def open_tx(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.push_screen(TxScreen(bytes.fromhex(event.row_key.value)))


class TxScreen(DetailScreen):
    """A transaction, where it is, and its Merkle proof recomputed here against the header."""

    TITLE_TEXT = "Transaction"

    def __init__(self, txid: bytes) -> None:
        super().__init__()
        self.txid = txid

    def on_mount(self) -> None:
        super().on_mount()
        self._shown: tuple[int, int] | None = None
        # Pushed over a mode, this screen gets no node messages: it watches the
        # recorder's version and the tip instead.
        self.set_interval(LIFE_REFRESH, self._maybe_reload)

    def _state(self) -> tuple[int, int]:
        node = app_node(self.app)
        if node is None or node.txlife is None:
            return (0, 0)
        tip = node.ledger.tip if node._ledger is not None else None
        return (node.txlife.version, tip.height if tip else 0)

    def _maybe_reload(self) -> None:
        if self._state() != self._shown:
            self.load()

    async def fill(self, node: Node) -> None:
        ledger = node.ledger
        self._shown = self._state()
        info = await ledger.tx_info(self.txid)
        body = self.query_one("#detail-body", Static)
        line = node.txlife.get(self.txid) if node.txlife is not None else None
        if info is None:
            if line is None:
                body.update("")
                self.show_error(f"transaction {hash_to_hex(self.txid)} is not known to this node")
                return
            t = Text()
            _row(t, "txid", hash_to_hex(self.txid), "bold")
            _row(t, "status", "not held: neither in the mempool nor in a block", "yellow")
            t.append("\n")
            life_text(t, line, app_clock(self.app)())
            body.update(t)
            return
        tx = info.tx
        sender, to = _tx_parties(node, tx)
        t = Text()
        _row(t, "txid", hash_to_hex(tx.txid), "bold")
        if info.in_mempool or info.block_hash is None:
            _row(t, "status", "open (in the mempool, not in a block yet)", "yellow")
        else:
            confirmed = plural(info.confirmations, "confirmation")
            _row(t, "status", f"in block {info.height}, {confirmed}", "green")
            _row(t, "block", hash_to_hex(info.block_hash))
        _row(t, "from", sender)
        _row(t, "to", to)
        _row(
            t,
            "amount",
            f"{format_amount(tx.amount)}   fee {format_amount(tx.fee)}   "
            f"nonce {tx.nonce}   {tx.size} B",
        )
        if tx.memo:
            _row(t, "memo", tx.memo.decode("utf-8", "replace"))
        t.append("\n")
        if line is not None:
            life_text(t, line, app_clock(self.app)())
            t.append("\n")
        if info.block_hash is None or info.position is None:
            t.append(
                "Merkle proof: none until the transaction is mined into a block.\n", style="italic"
            )
        else:
            entry = await ledger.get_header(info.block_hash)
            root = entry.header.merkle_root if entry is not None else info.merkle_root
            assert root is not None
            ok = verify_proof(tx.txid, info.position, info.proof, root)
            steps = plural(len(info.proof), "step")
            t.append(f"Merkle proof (position {info.position}, {steps})\n", style="bold")
            _row(t, " leaf", hash_to_hex(tx.txid))
            for depth, sibling in enumerate(info.proof):
                side = "left " if (info.position >> depth) & 1 else "right"
                _row(t, f" {side}", hash_to_hex(sibling))
            _row(t, " root", hash_to_hex(root))
            t.append(
                "proof verified ✓ (recomputed root equals the header's Merkle root)"
                if ok
                else "proof FAILED ✗ (recomputed root differs from the header's)",
                style="bold green" if ok else "bold red",
            )
        body.update(t)


class AddressScreen(DetailScreen):
    """Balance, nonce and recent history of one address; Enter opens a transaction."""

    TITLE_TEXT = "Address"

    def __init__(self, address: bytes) -> None:
        super().__init__()
        self.address = address

    async def fill(self, node: Node) -> None:
        ledger = node.ledger
        acct = await ledger.account(self.address)
        items = await ledger.history(self.address, limit=200)
        t = Text()
        _row(t, "address", node.format_address(self.address), "bold")
        _row(t, "balance", f"{format_amount(acct.balance)}   nonce {acct.nonce}")
        if acct.pending_delta:
            _row(
                t,
                "pending",
                f"{format_amount(acct.pending_delta)} in open transactions "
                f"(available {format_amount(acct.available)})",
                "yellow",
            )
        if not items:
            _row(t, "history", "no confirmed transactions")
        self.query_one("#detail-body", Static).update(t)
        if not items:
            return
        table = self.table("height", "txid", "dir", "amount", "other party")
        for item in items:
            tx = item.tx
            if tx.is_coinbase:
                kind, other = "mined", "coinbase"
            elif tx.recipient == self.address and tx.sender_address != self.address:
                kind, other = "in", node.format_address(tx.sender_address)
            elif tx.recipient == self.address:
                kind, other = "self", node.format_address(tx.recipient)
            else:
                kind, other = "out", node.format_address(tx.recipient)
            sign = "-" if kind == "out" else ""
            table.add_row(
                str(item.height),
                short_hash(item.txid),
                kind,
                sign + format_amount(tx.amount),
                short_text(other),
                key=item.txid.hex(),
            )
        table.focus()

    @on(DataTable.RowSelected, "#detail-table")
    def open_tx(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.push_screen(TxScreen(bytes.fromhex(event.row_key.value)))
