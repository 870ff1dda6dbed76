"""Hash rate as a number and a sparkline of its recent history."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline

from ..display.plural import plural
from ..display.units import format_rate
from .live_text import LiveText


class HashRateGraph(Vertical):
    DEFAULT_CSS = """
    HashRateGraph { height: auto; }
    HashRateGraph > #rate-label { height: 1; }
    HashRateGraph > Sparkline { height: 3; }
    """

    def compose(self) -> ComposeResult:
        yield LiveText("Hash rate: –", fixed=True, id="rate-label")  # one line, by its style
        spark = Sparkline([0.0], summary_function=max)
        spark.display = False
        yield spark

    def update_rates(self, history: Sequence[float], current: float) -> None:
        peak = max(history, default=0.0)
        label = f"Hash rate [b]{format_rate(current)}[/b]"
        if peak > 0:
            samples = plural(len(history), "sample")
            label += f"   [dim]peak {format_rate(peak)}, last {samples}[/dim]"
        self.query_one("#rate-label", LiveText).show(Text.from_markup(label))
        # Textual draws an all-equal series as full bars: hide it until there is a rate.
        spark = self.query_one(Sparkline)
        spark.display = peak > 0
        if peak > 0:
            spark.data = list(history)
