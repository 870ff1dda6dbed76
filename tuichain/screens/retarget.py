"""The retarget, seen: this window's block intervals against the target spacing, the
window's timespan against the target one, the clamp, and the next target."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from .. import messages as msg
from ..actions import app_node
from ..core.retarget import PLAIN_WINDOW, RetargetView, describe_retarget
from ..display.plural import plural
from ..display.units import format_difficulty
from ..widgets.interval_bars import IntervalBars

if TYPE_CHECKING:
    from ..core.params import NetworkParams


def _span(seconds: int) -> str:
    return f"{seconds} s ({seconds / 60:.1f} min)"


def retarget_text(view: RetargetView, params: NetworkParams, tip: int) -> Text:
    t = Text()
    if not view.retargets:
        t.append(f"{params.name}: no retarget. ", style="bold yellow")
        t.append(f"Every block keeps bits {view.bits:08x} (difficulty "
                 f"{format_difficulty(view.difficulty)}); the last "
                 f"{plural(len(view.intervals), 'interval')} are shown against the "
                 f"{view.target_spacing} s spacing.\n")
        return t
    done = tip - view.window_start
    t.append(f"Window {view.window_start}–{view.next_height - 1}", style="bold")
    t.append(f"  ·  {done} of {plural(params.retarget_interval - 1, 'interval')} so far  ·  "
             f"target spacing {view.target_spacing} s\n")
    t.append("actual timespan   ", style="bold")
    t.append(f"{_span(view.actual_timespan)} so far; at this pace "
             f"{_span(view.projected_timespan)}\n")
    t.append("target timespan   ", style="bold")
    t.append(f"{_span(view.target_timespan)}  (clamped to ¼–4× of it)\n")
    t.append("clamp             ", style="bold")
    if view.clamped:
        t.append("applies: the pace is beyond 4× either way, the change is capped\n",
                 style="yellow")
    else:
        t.append("not applied\n")
    t.append("next target       ", style="bold")
    t.append(f"bits {view.next_bits:08x} at height {view.next_height}"
             f" (now {view.bits:08x})\n")
    t.append("difficulty        ", style="bold")
    change = view.next_difficulty / view.difficulty if view.difficulty else 1.0
    t.append(f"{format_difficulty(view.difficulty)} now → "
             f"{format_difficulty(view.next_difficulty)} if blocks keep this pace "
             f"(×{change:.2f})\n")
    return t


class RetargetScreen(Screen[None]):
    DEFAULT_CSS = """
    RetargetScreen #retarget-title { height: 1; padding: 0 1; background: $boost; }
    RetargetScreen #retarget-chart { padding: 0 1; }
    RetargetScreen #retarget-info { padding: 0 1; height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._view: RetargetView | None = None

    def compose(self) -> ComposeResult:
        yield Static("Retarget: block intervals against the target spacing", id="retarget-title")
        yield IntervalBars("", id="retarget-chart")
        yield Static("the node is starting…", id="retarget-info")

    def on_mount(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def on_resize(self) -> None:
        if self._view is not None:
            self.query_one(IntervalBars).show(self._view.intervals, self._view.target_spacing)

    @on(msg.NodeMessage)
    def _node_message(self, message: msg.NodeMessage[msg.NodeEvent]) -> None:
        if isinstance(message, msg.NewTip | msg.Reorg | msg.NodeStarted):
            self.reload()

    @work(exclusive=True, group="retarget", exit_on_error=False)
    async def reload(self) -> None:
        node = app_node(self.app)
        info = self.query_one("#retarget-info", Static)
        if node is None or node.ledger.tip is None:
            return
        try:
            params = node.params
            tip = node.ledger.tip.height
            if params.no_retarget:
                start = max(0, tip - PLAIN_WINDOW)
            else:
                start = tip - tip % params.retarget_interval
            entries = await node.ledger.headers_range(start, tip - start + 1)
            rows = [(e.height, e.header.time, e.header.bits) for e in entries]
            if not any(h == tip for h, _, _ in rows):
                return  # the tip moved meanwhile; its NewTip reloads
            view = describe_retarget(params, tip, rows)
        except Exception as exc:
            info.update(Text(f"could not read the chain: {exc}", style="red"))
            return
        self._view = view
        self.query_one(IntervalBars).show(view.intervals, view.target_spacing)
        info.update(retarget_text(view, params, tip))
