"""The chain explorer: the active chain newest first, paged lazily, with search and side branches.

The table never holds the whole chain: it starts with the newest page and
loads the next one (``Ledger.headers_range``) as the cursor nears the bottom.
A new tip adds its rows on top; a reorg (the top row's hash no longer on the
chain) reloads what was shown.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from .. import messages as msg
from ..actions import app_clock, app_node
from ..core.errors import AddressError
from ..core.hashing import hash_to_hex, hex_to_hash
from ..core.params import REGTEST
from ..core.retarget import difficulty
from ..core.store import HAVE_DATA, HEADER_ONLY, HeaderEntry
from ..display.chaintext import format_size, format_work, short_hash, utc_time
from ..display.units import format_ago, format_difficulty
from ..widgets.focus import focus_at_once, typing
from ..widgets.inputs import TextBox
from ..widgets.live_text import LiveText
from ..widgets.refresh import Refresher
from .explorer_details import AddressScreen, BlockScreen, TxScreen

PAGE = 50
# Load the next page when the cursor is this close to the last loaded row.
PREFETCH = 10
# A reload after a reorg keeps at most this many rows, so a long scroll stays cheap.
MAX_RELOAD = 4 * PAGE
# Seconds between refreshes for new tips, and between looks while a sync moves the tip
# more than a page each time.
TIP_REFRESH = 0.25
SYNC_REFRESH = 1.0
AGE_REFRESH = 5.0
HEX64 = re.compile(r"[0-9a-fA-F]{64}")
HEX = re.compile(r"[0-9a-fA-F]+")
# Shorter prefixes match too much to be worth typing: 8 digits are 4 billion values.
MIN_PREFIX = 8
STATUS = {HAVE_DATA: "have block", HEADER_ONLY: "header only"}


class ExplorerScreen(Screen[None]):
    AUTO_FOCUS = "#explorer-blocks"
    DEFAULT_CSS = """
    ExplorerScreen #explorer-search { display: none; }
    ExplorerScreen #explorer-search.shown { display: block; }
    ExplorerScreen #explorer-title { height: 1; padding: 0 1; background: $boost; }
    ExplorerScreen DataTable { height: 1fr; }
    ExplorerScreen #explorer-branches { display: none; }
    ExplorerScreen.branches #explorer-branches { display: block; }
    ExplorerScreen.branches #explorer-blocks { display: none; }
    ExplorerScreen #explorer-msg { height: auto; max-height: 3; padding: 0 1; color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", priority=True),  # focus at once: widgets/focus.py
        Binding("b", "toggle_branches", "Branches"),
        Binding("escape", "close_search", "Close search", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._lock = asyncio.Lock()
        self._top: int | None = None  # height of the first (newest) row
        self._top_hash: bytes | None = None
        self._low: int | None = None  # height of the last (oldest) row
        self._times: dict[str, int] = {}  # row key -> block time, for the age column
        # New tips coalesced: a sync moves the tip many times a second, and each one
        # started (and cancelled) a refresh, over a table that only grew.
        self._tip_refresh = Refresher(self, self._refresh_tip, delay=TIP_REFRESH)
        self._seen_tip: int | None = None  # the tip's height at the last refresh

    def compose(self) -> ComposeResult:
        yield TextBox(
            placeholder=f"height, hash or txid ({MIN_PREFIX}+ hex digits), address; Enter searches",
            id="explorer-search",
        )
        yield LiveText("Active chain", id="explorer-title")
        blocks: DataTable[Any] = DataTable(
            id="explorer-blocks", cursor_type="row", zebra_stripes=True
        )
        blocks.add_column("Height", key="height")
        # Age and difficulty before size and bits: at 80 columns they stay in view.
        blocks.add_columns("Hash", "Time (UTC)", "Txs")
        blocks.add_column("Age", key="age")
        blocks.add_columns("Difficulty", "Size", "Bits")
        yield blocks
        branches: DataTable[Any] = DataTable(
            id="explorer-branches", cursor_type="row", zebra_stripes=True
        )
        branches.add_columns("Tip", "Tip hash", "Fork at", "Blocks", "Chainwork", "Status")
        yield branches
        yield LiveText("", id="explorer-msg")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#explorer-blocks", DataTable).focus()
        self.reload()
        self.set_interval(AGE_REFRESH, self._refresh_ages)

    def _refresh_ages(self) -> None:
        """Ages move on with the clock; the rows' times do not."""
        table = self.blocks
        now = app_clock(self.app)()
        for key, block_time in list(self._times.items()):
            if key in table.rows:
                table.update_cell(key, "age", format_ago(now - block_time))

    def on_screen_resume(self) -> None:
        # Events may have been missed while another mode was shown; catch up.
        self._tip_refresh.request(now=True)

    # ---- node events ---------------------------------------------------------
    @on(msg.NodeMessage)
    def _node_message(self, message: msg.NodeMessage[msg.NodeEvent]) -> None:
        if isinstance(message, msg.Reorg | msg.NodeStarted):
            self.reload()
        elif isinstance(message, msg.NewTip):
            self._tip_refresh.request()
        if isinstance(message, msg.NewTip | msg.Reorg | msg.BlockRejected) and self.has_class(
            "branches"
        ):
            self.load_branches()

    # ---- loading the active chain ------------------------------------------
    @property
    def blocks(self) -> DataTable[Any]:
        return self.query_one("#explorer-blocks", DataTable)

    def _say(self, text: str) -> None:
        self.query_one("#explorer-msg", LiveText).show(Text(text))

    async def _rows(self, start: int, count: int) -> list[tuple[HeaderEntry, tuple[int, int]]]:
        node = app_node(self.app)
        if node is None or count <= 0:
            return []
        entries = await node.ledger.headers_range(start, count)
        sizes = await node.ledger.block_sizes([e.hash for e in entries])
        return [(e, sizes.get(e.hash, (-1, -1))) for e in reversed(entries)]

    def _add(self, rows: list[tuple[HeaderEntry, tuple[int, int]]]) -> None:
        table = self.blocks
        node = app_node(self.app)
        params = node.params if node is not None else REGTEST
        now = app_clock(self.app)()
        for e, (size, txs) in rows:
            if e.hash.hex() in table.rows:
                continue
            self._times[e.hash.hex()] = e.header.time
            table.add_row(
                e.height,
                short_hash(e.hash),
                utc_time(e.header.time),
                "–" if txs < 0 else txs,
                format_ago(now - e.header.time),
                format_difficulty(difficulty(e.header.bits, params)),
                "–" if size < 0 else format_size(size),
                f"{e.header.bits:08x}",
                key=e.hash.hex(),
            )

    def _set_title(self, syncing: bool = False) -> None:
        node = app_node(self.app)
        tip = node.ledger.tip if node is not None else None
        text = "Active chain, newest first"
        if tip is not None:
            text += f"  ·  tip {tip.height}  ·  {short_hash(tip.hash)}"
        if syncing:
            text += "  ·  syncing…"  # the list is redrawn when the tip slows
        self.query_one("#explorer-title", LiveText).show(text)

    @work(exclusive=True, group="explorer-reload", exit_on_error=False)
    async def reload(self) -> None:
        """Newest page again (or what was loaded, up to MAX_RELOAD); keep the cursor's block."""
        try:
            async with self._lock:
                node = app_node(self.app)
                if node is None or node.ledger.tip is None:
                    self._say("the node is starting…")
                    return
                table = self.blocks
                # The pages loaded, while the user browses them; the newest page alone
                # while the cursor is on the newest block (a sync reloads often).
                keep = max(PAGE, min(table.row_count, MAX_RELOAD)) if table.cursor_row else PAGE
                tip = node.ledger.tip.height
                rows = await self._rows(max(0, tip - keep + 1), keep)
                selected = None
                if table.row_count and table.cursor_row > 0:
                    selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
                table.clear()
                self._times.clear()
                self._add(rows)
                self._mark(rows)
                if selected is not None and selected in table.rows:
                    table.move_cursor(row=table.get_row_index(selected))
                self._set_title()
                self._say("")
        except Exception as exc:
            self._say(f"could not load the chain: {exc}")

    def _mark(self, rows: list[tuple[HeaderEntry, tuple[int, int]]]) -> None:
        if rows:
            self._top, self._top_hash, self._low = (
                rows[0][0].height,
                rows[0][0].hash,
                rows[-1][0].height,
            )
        else:
            self._top = self._top_hash = self._low = None

    async def _refresh_tip(self) -> None:
        """Add blocks above the newest row; reload if that row left the chain, or if
        the table would grow past MAX_RELOAD rows while the cursor is on the newest."""
        try:
            async with self._lock:
                node = app_node(self.app)
                if node is None or node.ledger.tip is None:
                    return
                tip = node.ledger.tip.height
                top = self._top  # only changed under self._lock, which we hold
                table = self.blocks
                # A tip that moved more than a page since the last look is a sync. Each
                # row drawn again costs the loop about 2 ms (30-40 ms a screenful), so
                # the table waits, the title follows the tip, and a look a second later
                # rebuilds it once the tip has slowed down.
                last, self._seen_tip = self._seen_tip, tip
                if last is not None and tip - last > PAGE:
                    self._set_title(syncing=True)
                    self._tip_refresh.delay = SYNC_REFRESH
                    self._tip_refresh.request()
                    return
                self._tip_refresh.delay = TIP_REFRESH
                if top is None or tip < top or tip - top > PAGE or (
                        table.cursor_row == 0 and table.row_count + tip - top > MAX_RELOAD):
                    reload = True
                else:
                    reload = await node.ledger.hash_at(top) != self._top_hash
                    if not reload:
                        rows = await self._rows(top + 1, tip - top)
                        if rows:
                            cursor = table.cursor_row
                            self._add(rows)
                            table.sort("height", reverse=True)
                            if cursor > 0:
                                table.move_cursor(row=cursor + len(rows))
                            self._top, self._top_hash = rows[0][0].height, rows[0][0].hash
                        self._set_title()
            if reload:
                self.reload()
        except Exception as exc:
            self._say(f"could not load the chain: {exc}")

    @work(exclusive=True, group="explorer-more", exit_on_error=False)
    async def load_more(self) -> None:
        try:
            async with self._lock:
                if self._low is None or self._low == 0:
                    return
                start = max(0, self._low - PAGE)
                rows = await self._rows(start, self._low - start)
                self._add(rows)
                if rows:
                    self._low = rows[-1][0].height
        except Exception as exc:
            self._say(f"could not load more blocks: {exc}")

    @on(DataTable.RowHighlighted, "#explorer-blocks")
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= event.data_table.row_count - PREFETCH:
            self.load_more()

    @on(DataTable.RowSelected, "#explorer-blocks")
    @on(DataTable.RowSelected, "#explorer-branches")
    def _open_block(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.push_screen(BlockScreen(bytes.fromhex(event.row_key.value)))

    # ---- side branches -----------------------------------------------------
    def action_toggle_branches(self) -> None:
        self.toggle_class("branches")
        if self.has_class("branches"):
            self.query_one("#explorer-title", LiveText).show("Side branches (b: back to chain)")
            focus_at_once(self, self.query_one("#explorer-branches", DataTable))
            self.load_branches()
        else:
            self._set_title()
            focus_at_once(self, self.blocks)

    @work(exclusive=True, group="explorer-branches", exit_on_error=False)
    async def load_branches(self) -> None:
        node = app_node(self.app)
        if node is None:
            return
        try:
            branches = await node.ledger.side_branches()
        except Exception as exc:
            self._say(f"could not read side branches: {exc}")
            return
        table = self.query_one("#explorer-branches", DataTable)
        table.clear()
        for entry, fork in branches:
            table.add_row(
                entry.height,
                short_hash(entry.hash),
                fork,
                entry.height - fork,
                format_work(entry.chainwork),
                STATUS.get(entry.status, "invalid"),
                key=entry.hash.hex(),
            )
        tip = node.ledger.tip
        title = f"Side branches: {len(branches)}"
        if tip is not None:
            title += f"  ·  active chain work {format_work(tip.chainwork)} at {tip.height}"
        self.query_one("#explorer-title", LiveText).show(title)
        self._say("" if branches else "no side branches: every stored block is on the active chain")

    # ---- search ------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "search" and typing(self))

    def action_search(self) -> None:
        box = self.query_one("#explorer-search", Input)
        box.add_class("shown")
        focus_at_once(self, box)

    def action_close_search(self) -> None:
        box = self.query_one("#explorer-search", Input)
        if box.has_class("shown"):
            box.remove_class("shown")
            focus_at_once(self, self.query_one(
                "#explorer-branches" if self.has_class("branches") else "#explorer-blocks",
                DataTable,
            ))

    @on(Input.Submitted, "#explorer-search")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self.search(text)

    @work(exclusive=True, group="explorer-search", exit_on_error=False)
    async def search(self, text: str) -> None:
        node = app_node(self.app)
        if node is None:
            self._say("the node is starting; try again in a moment")
            return
        try:
            screen = await self._resolve(text)
        except Exception as exc:
            self._say(f"search failed: {exc}")
            return
        if isinstance(screen, str):
            self._say(screen)
            return
        self._say("")
        self.action_close_search()
        self.app.push_screen(screen)

    async def _resolve(self, text: str) -> BlockScreen | TxScreen | AddressScreen | str:
        """The screen to open for a query, or a sentence saying why there is none."""
        node = app_node(self.app)
        assert node is not None
        ledger = node.ledger
        if text.isascii() and text.isdigit():  # "²" is a digit to isdigit, not to int
            height = int(text)
            tip = ledger.tip.height if ledger.tip else 0
            # Checked first: a height past SQLite's 64-bit integers raised OverflowError.
            h = await ledger.hash_at(height) if height <= tip else None
            if h is None:
                return f"not found: no block at height {height} (the tip is {tip})"
            return BlockScreen(h)
        if HEX64.fullmatch(text):
            h = hex_to_hash(text.lower())
            if await ledger.get_header(h) is not None:
                return BlockScreen(h)
            if await ledger.tx_info(h) is not None:
                return TxScreen(h)
            return f"not found: no block or transaction {hash_to_hex(h)[:16]}… on this node"
        if HEX.fullmatch(text):
            return await self._by_prefix(text.lower())
        hrp = node.params.hrp
        if text.lower().startswith(hrp + "1"):
            try:
                return AddressScreen(node.parse_address(text))
            except AddressError as exc:
                reason = exc.reason
                if reason.startswith("not a valid address"):
                    return reason
                return f"not a valid address: {reason}"
        return (
            f"not found: type a block height, a block hash or txid (at least {MIN_PREFIX} "
            f"hex digits of it), or an address starting {hrp}1"
        )

    async def _by_prefix(self, prefix: str) -> BlockScreen | TxScreen | str:
        """A block or transaction by the first digits of its hash as shown on screen."""
        if len(prefix) < MIN_PREFIX:
            return (
                f"too short: type at least {MIN_PREFIX} hex digits of a hash or txid "
                f"({len(prefix)} given)"
            )
        node = app_node(self.app)
        assert node is not None
        blocks, txids = await node.ledger.find_prefix(prefix)
        found = len(blocks) + len(txids)
        if found == 0:
            return f"not found: no block or transaction starts with {prefix}"
        if found > 1:
            return (
                f"ambiguous: {prefix} starts more than one block or transaction; "
                "type more digits"
            )
        return BlockScreen(blocks[0]) if blocks else TxScreen(txids[0])
