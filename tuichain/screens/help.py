"""The help screen (? or F1): every key of the screen it was opened on, and the workflow.

The keys are read from the bindings active on that screen, hidden ones too, so
the list cannot drift from what the keys really do.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

WORKFLOW = (
    ("Create a wallet", "w, then n (a passphrase is optional)"),
    ("Mine blocks", "m, then b for one block or s to mine continuously"),
    ("Connect a peer", "p, then a and a URL such as http://127.0.0.1:5001"),
    ("Send coins", "w, then s: address, amount, fee (empty: the suggested fee)"),
    ("Watch it confirm", "o shows it waiting; the Wallet history shows it mined"),
    ("Look it up", "e, then / and a block height, or 8+ hex digits of a hash"),
)


def key_rows(screen: Any) -> list[tuple[str, str]]:
    """(keys, what they do) for the bindings active on `screen`, the app's included."""
    rows: dict[str, list[str]] = {}
    app = screen.app
    for active in app.active_bindings.values():
        binding = active.binding
        if active.node is not screen and active.node is not app:
            continue  # a focused widget's own keys (a table's arrows) are not ours
        description = binding.description or binding.action
        if binding.action in ("help", "command_palette") or not description:
            continue
        label = app.get_key_display(binding)
        rows.setdefault(description, [])
        if label not in rows[description]:
            rows[description].append(label)
    return [("/".join(keys), description) for description, keys in rows.items()]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen .help-title { text-style: bold; }
    HelpScreen VerticalScroll { height: auto; max-height: 18; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "close", "Close"),
    ]

    def __init__(self, screen_name: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self._screen_name = screen_name
        self._keys = keys

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Help: {self._screen_name}", classes="help-title")
            with VerticalScroll():
                yield Static(self._keys_text(), id="help-keys", markup=False)
                yield Label("The workflow, in six steps", classes="help-title")
                yield Static(self._workflow_text(), id="help-workflow", markup=False)
            yield Label("Escape, ? or F1 closes; ctrl+p opens the command palette.")

    def _keys_text(self) -> str:
        width = max((len(k) for k, _ in self._keys), default=0)
        lines = [f"{keys:>{width}}  {what}" for keys, what in self._keys]
        lines.append(f"{'? F1':>{width}}  this help")
        return "\n".join(lines)

    @staticmethod
    def _workflow_text() -> str:
        return "\n".join(f"{i}. {step}: {how}" for i, (step, how) in enumerate(WORKFLOW, 1))

    def action_close(self) -> None:
        self.dismiss(None)
