"""Mining: one block or continuous, workers, live hash rate, the template, blocks found."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, DataTable

from .. import messages as msg
from ..actions import NO_WALLET, app_node
from ..config import save_state
from ..core.amounts import format_amount
from ..core.events import MinerUpdate
from ..core.pow import target_from_bits
from ..display.chaintext import short_hash
from ..display.plural import plural
from ..display.units import format_duration
from ..widgets.live_text import LiveText
from ..widgets.rate_graph import HashRateGraph
from ..widgets.refresh import Refresher

if TYPE_CHECKING:
    from ..node import Node

MAX_WORKERS = max(1, os.cpu_count() or 1)
FOUND_ROWS = 50


def expected_hashes(target: int) -> float:
    """Hashes needed on average to find a block: 2^256 / (target + 1)."""
    return float((1 << 256) // (target + 1))


class MiningScreen(Screen[None]):
    AUTO_FOCUS = "#mine-one"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Not in the footer: the buttons show these keys.
        Binding("b", "mine_one", "Mine 1 block", show=False),
        Binding("s", "toggle_mining", "Start/stop", show=False),
        Binding("plus,equals_sign", "workers(1)", "+worker", show=False),
        Binding("minus", "workers(-1)", "-worker", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._refresher = Refresher(self, self._reload_found, delay=0.5)
        self._last: MinerUpdate | None = None

    def compose(self) -> ComposeResult:
        yield LiveText("", id="mining-state")
        with Horizontal(classes="buttons"):
            yield Button("Mine one block (b)", id="mine-one", variant="primary", compact=True)
            yield Button("Start mining (s)", id="toggle", compact=True)
            yield Button("− (-)", id="fewer", compact=True)
            yield LiveText("", id="workers")
            yield Button("+ (+)", id="more", compact=True)
        yield HashRateGraph()
        yield LiveText("", id="mining-info")
        table: DataTable[Any] = DataTable(id="found", cursor_type="row", zebra_stripes=True)
        table.border_title = "Blocks found by this node"
        yield table

    def on_mount(self) -> None:
        self.query_one("#found", DataTable).add_columns("Height", "Block hash", "Status")
        self._update()
        self.set_interval(1.0, self._update)
        self._refresher.request(now=True)

    def on_miner_update(self, message: msg.MinerUpdate) -> None:
        self._last = message.event
        self._update()

    @on(msg.NodeStarted)
    @on(msg.NodeFailed)
    @on(msg.NewTip)
    @on(msg.Reorg)
    @on(msg.BlockFound)
    @on(msg.WalletChanged)
    def _node_message(self) -> None:
        self._update()
        self._refresher.request()

    # ---- display -----------------------------------------------------------------------
    def _update(self) -> None:
        node = app_node(self.app)
        state = self.query_one("#mining-state", LiveText)
        info = self.query_one("#mining-info", LiveText)
        if node is None:
            error = getattr(self.app, "start_error", None)
            state.show(
                Text(
                    f"The node did not start: {error}" if error else "Starting the node…",
                    style="italic",
                )
            )
            info.show("")
            return
        mining = node.mining
        if node.wallet is None:
            state.show(Text(NO_WALLET, style="bold yellow"))
        elif mining.continuous:
            workers = plural(mining.workers, "worker")
            state.show(Text(f"⛏ Mining continuously with {workers}", style="bold green"))
        elif mining.running:
            state.show(Text("⛏ Mining one block…", style="bold green"))
        else:
            state.show(Text("Idle: b mines one block, s mines continuously.", style="dim"))
        toggle = self.query_one("#toggle", Button)
        toggle.label = "Stop mining (s)" if mining.continuous else "Start mining (s)"
        toggle.variant = "error" if mining.continuous else "default"
        self.query_one("#workers", LiveText).show(f" {plural(mining.workers, 'worker')} ")
        rate = mining.progress.rate if mining.progress and mining.running else 0.0
        self.query_one(HashRateGraph).update_rates(mining.stats.rate_history, rate)
        info.show(self._info_text(node, rate))

    def _info_text(self, node: Node, rate: float) -> Text:
        mining = node.mining
        template = mining.template
        tip = node.ledger.tip
        bits = template.header.bits if template is not None else (tip.bits if tip else 0)
        target = target_from_bits(bits) if bits else 0
        limit = target_from_bits(node.params.pow_limit_bits)
        expected = expected_hashes(target) if target else 0.0
        lines: list[tuple[str, str] | str] = [
            ("Pays to     ", "dim"),
            f"{node.address or '(no wallet)'}\n",
            ("Target      ", "dim"),
            f"{target:064x}"[:24] + "…",
            ("  difficulty ", "dim"),
            f"{limit / target if target else 0:,.2f}\n",
            ("Expected    ", "dim"),
            f"{plural(round(expected), 'hash')} a block",
        ]
        if rate > 0 and expected:
            lines += [("  time to a block ", "dim"), format_duration(expected / rate)]
        lines.append("\n")
        if template is not None and mining.running:
            job = mining.progress.job_hashes if mining.progress else 0
            share = job / expected if expected else 0.0
            lines += [
                ("Template    ", "dim"),
                f"height {tip.height + 1 if tip else '?'}, "
                f"{plural(len(template.txs) - 1, 'payment')}, "
                f"reward {format_amount(template.txs[0].amount)}",
                "\n",
                ("Progress    ", "dim"),
                f"{job:,} hashes on this template = {share:.0%} of the expected work",
            ]
        else:
            lines += [("Template    ", "dim"), "none (not mining)"]
        stats = mining.stats
        lines += [
            "\n",
            ("Found       ", "dim"),
            plural(len(stats.found), "block"),
            ("  stale ", "dim"),
            (f"{len(stats.stale)}", "yellow" if stats.stale else ""),
        ]
        return Text.assemble(*lines)

    async def _reload_found(self) -> None:
        node = app_node(self.app)
        if node is None:
            return
        stale = set(await node.mining.stale_blocks())
        rows: list[tuple[str, str, Text]] = []
        for h in reversed(node.mining.stats.found[-FOUND_ROWS:]):
            entry = await node.ledger.get_header(h)
            height = str(entry.height) if entry is not None else "?"
            status = Text("stale", style="yellow") if h in stale else Text("active", "green")
            rows.append((height, short_hash(h, 24, 8), status))
        if not self.is_mounted:
            return
        table = self.query_one("#found", DataTable)
        table.clear()
        for height, text, status in rows:
            table.add_row(height, text, status)
        table.border_title = (
            f"Blocks found by this node: {len(node.mining.stats.found)} ({len(stale)} stale)"
        )
        self._update()

    # ---- actions -----------------------------------------------------------------------
    def action_mine_one(self) -> None:
        self.app.action_mine_one()  # type: ignore[attr-defined]

    def action_toggle_mining(self) -> None:
        self.app.action_toggle_mining()  # type: ignore[attr-defined]
        self._update()

    def action_workers(self, delta: int) -> None:
        node = app_node(self.app)
        if node is None:
            return
        n = min(MAX_WORKERS, max(1, node.mining.workers + delta))
        if n == node.mining.workers:
            self.notify(f"Workers stay at {n} (1 to {MAX_WORKERS} on this machine).")
            return
        node.mining.set_workers(n)
        node.config.miner_workers = n
        self._save(n)
        self._update()

    @work(exclusive=True, group="save-workers", exit_on_error=False)
    async def _save(self, workers: int) -> None:
        node = app_node(self.app)
        if node is None:
            return
        try:
            await asyncio.to_thread(save_state, node.config.data_dir, miner_workers=workers)
        except Exception as exc:
            self.notify(f"Workers not saved to state.toml: {exc}", severity="warning")

    @on(Button.Pressed, "#mine-one")
    def _mine_pressed(self) -> None:
        self.action_mine_one()

    @on(Button.Pressed, "#toggle")
    def _toggle_pressed(self) -> None:
        self.action_toggle_mining()

    @on(Button.Pressed, "#fewer")
    def _fewer_pressed(self) -> None:
        self.action_workers(-1)

    @on(Button.Pressed, "#more")
    def _more_pressed(self) -> None:
        self.action_workers(1)
