"""Keys that move focus into a text box, routed before the keys queued behind them.

The app routes each key to whatever has focus when the key is taken off its queue,
while `Widget.focus()` only takes effect one message later, and a screen's ordinary
bindings run after the key has bubbled up from the old focus. A burst (a fast
typist, a paste, a busy app) therefore sent the text meant for a box to the table
behind it, where its letters ran screen keys: q quit, c copied, m opened mining.

A priority binding runs as its key is taken off the queue, so focusing the box
there with `Screen.set_focus` (immediate) sends the next key into it. While a box
has focus the binding stands aside (`typing`), and its letter is typed as text.
A key that opens a dialog or a screen awaits its mount in the action: the app takes
the next key off its queue only once the action has returned.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input


def typing(screen: Screen[Any]) -> bool:
    """A text box has focus: a letter is text, not a key for the screen."""
    return isinstance(screen.focused, Input)


def focus_at_once(screen: Screen[Any], widget: Widget) -> None:
    """Focus `widget` before the next key is routed (Widget.focus() defers it)."""
    screen.set_focus(widget)
