"""Block intervals as vertical bars against the target spacing, drawn with block characters.

Textual's Sparkline scales each series to its own maximum and draws no
reference line, so it cannot say "this block took twice the target"; these
bars share one scale with a dotted line at the target spacing.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..display.plural import plural

ROWS = 6
EIGHTHS = " ▁▂▃▄▅▆▇█"


def interval_chart(intervals: list[int], target: int, width: int, rows: int = ROWS) -> Text:
    """The latest intervals that fit in `width` columns, one a column, tallest at 2x target
    or the slowest block, a ┈ line at the target; slower than target red, faster green."""
    shown = intervals[-max(1, width - 6):]
    top = max([2 * target, *shown, 1])
    line_row = min(rows - 1, int(target / top * rows))  # rows counted from the bottom
    text = Text()
    for row in range(rows - 1, -1, -1):
        label = f"{target}s " if row == line_row else ""
        text.append(f"{label:>6}", style="dim")
        for value in shown:
            eighths = round(value / top * rows * 8) - row * 8
            ch = EIGHTHS[max(0, min(8, eighths))]
            if ch == " " and row == line_row:
                text.append("┈", style="dim")
            else:
                text.append(ch, style="red" if value > target else "green")
        text.append("\n")
    text.append(f"{'':>6}oldest → newest, {plural(len(shown), 'interval')}", style="dim")
    return text


class IntervalBars(Static):
    DEFAULT_CSS = "IntervalBars { height: auto; }"

    def show(self, intervals: list[int], target: int) -> None:
        width = max(20, (self.size.width or 80))
        self.update(interval_chart(intervals, target, width))
