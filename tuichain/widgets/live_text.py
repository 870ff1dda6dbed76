"""A line or block of text redrawn as the node changes, at the least cost.

`Static.update` lays the whole screen out again each time (its new text might need
more room). A screen that redrew four such widgets on every miner update spent 12-14 ms
of the loop's time on it, twice that with the miners sharing the cores.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static


def _shape(text: Text) -> list[int]:
    return [cell_len(line) for line in text.plain.split("\n")]


class LiveText(Static):
    """A Static for text that changes often: `show` skips the same text, and lays the
    screen out again only when the text's shape (each line's width) changed, or never
    when the widget's size is `fixed` by its style."""

    _shown: Text | None = None

    def __init__(self, content: str = "", *, fixed: bool = False, id: str | None = None) -> None:
        super().__init__(content, id=id)
        self._fixed = fixed

    def show(self, text: Text | str) -> None:
        new = Text(text) if isinstance(text, str) else text
        before = self._shown
        if before is not None and new == before:
            return
        self._shown = new
        relayout = not self._fixed and (before is None or _shape(new) != _shape(before))
        self.update(new, layout=relayout)
