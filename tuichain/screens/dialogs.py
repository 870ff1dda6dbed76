"""Modal dialogs: confirm, passphrase, one line of text, and read-only details."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ..widgets.focus import focus_at_once
from ..widgets.inputs import TextBox

Rows = Sequence[tuple[str, str]]

DIALOG_CSS = """
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 76; max-width: 100%; height: auto; max-height: 100%;
    border: thick $primary; background: $surface; padding: 0 1;
}}
{name} .dialog-title {{ text-style: bold; width: 100%; content-align: center middle; }}
{name} .dialog-rows {{
    grid-size: 2; grid-columns: 12 1fr; grid-gutter: 0 1; height: auto; margin: 1 0;
}}
{name} .dialog-key {{ color: $text-muted; }}
{name} .dialog-value {{ width: 1fr; }}
{name} .dialog-buttons {{ height: auto; align: center middle; margin-top: 1; }}
{name} .dialog-buttons Button {{ margin: 0 1; }}
{name} .dialog-error {{ color: $text-error; height: auto; }}
{name} Input {{ margin: 0 0 1 0; }}
"""


def _rows(rows: Rows) -> Grid:
    cells: list[Static] = []
    for key, value in rows:
        cells.append(Static(key, classes="dialog-key"))
        cells.append(Static(Text(value), classes="dialog-value"))
    return Grid(*cells, classes="dialog-rows")


class ConfirmDialog(ModalScreen[bool]):
    """Shows exactly what is about to happen; y/Enter confirms, n/Escape cancels."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmDialog")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "choose(True)", "Yes"),
        Binding("n,escape", "choose(False)", "No"),
    ]

    def __init__(
        self,
        title: str,
        rows: Rows,
        *,
        question: str = "Go ahead?",
        confirm_label: str = "Yes (y)",
        cancel_label: str = "No (n)",
    ) -> None:
        super().__init__()
        self._title = title
        self._rows = rows
        self._question = question
        self._labels = (confirm_label, cancel_label)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="dialog-title")
            yield _rows(self._rows)
            yield Label(self._question)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._labels[0], variant="primary", id="yes")
                yield Button(self._labels[1], id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_choose(self, answer: bool) -> None:
        self.dismiss(answer)


class InfoDialog(ModalScreen[None]):
    """Read-only details (a transaction, an error); Escape, Enter or q closes it.

    With `q_quits`, q quits the app instead (the node could not start: there is
    nothing else to do, and a modal screen hides the app's own q binding).
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="InfoDialog")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close"),
        Binding("q", "q", "Close", show=False),
    ]

    def __init__(self, title: str, rows: Rows, *, footer: str = "", q_quits: bool = False) -> None:
        super().__init__()
        self._title = title
        self._rows = rows
        self._footer = footer
        self._q_quits = q_quits

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="dialog-title")
            with VerticalScroll():
                yield _rows(self._rows)
            if self._footer:
                yield Label(self._footer)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        # The app may be shutting down (a failed start, q pressed at once): by then
        # the button can be gone, and a missing focus target must not crash the exit.
        for button in self.query("#close").results(Button):
            button.focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)

    async def action_q(self) -> None:
        if self._q_quits:
            await self.app.run_action("quit")
        else:
            self.dismiss(None)


class PassphraseDialog(ModalScreen[str | None]):
    """Returns the passphrase ("" for none when allowed), or None when cancelled.

    With `confirm`, the passphrase is typed twice and must match: a typo here
    would lock the owner out of the wallet.
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="PassphraseDialog")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        # Priority: Enter in the first box moves to the second as the key arrives, so
        # the passphrase typed again right behind it lands there (widgets/focus.py).
        Binding("enter", "second_box", show=False, priority=True),
    ]

    def __init__(
        self, title: str, *, confirm: bool = False, allow_empty: bool = False, hint: str = ""
    ) -> None:
        super().__init__()
        self._title = title
        self._confirm = confirm
        self._allow_empty = allow_empty
        self._hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="dialog-title")
            if self._hint:
                yield Static(self._hint)
            yield TextBox(password=True, placeholder="passphrase", id="pass1")
            if self._confirm:
                yield TextBox(password=True, placeholder="passphrase again", id="pass2")
            yield Static("", classes="dialog-error", id="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        # At once: whoever pushed this dialog waits for its mount, then keys come here.
        focus_at_once(self, self.query_one("#pass1", Input))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "second_box":
            return self._confirm and getattr(self.focused, "id", None) == "pass1"
        return True

    def action_second_box(self) -> None:
        focus_at_once(self, self.query_one("#pass2", Input))

    @on(Input.Submitted, "#pass1")
    def _first_done(self) -> None:
        if not self._confirm:
            self._submit()

    @on(Input.Submitted, "#pass2")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        first = self.query_one("#pass1", Input).value
        if not first and not self._allow_empty:
            self._error("Enter the passphrase.")
            return
        if self._confirm and first != self.query_one("#pass2", Input).value:
            self._error("The two passphrases differ: type them again.")
            self.query_one("#pass2", Input).value = ""
            focus_at_once(self, self.query_one("#pass2", Input))
            return
        self.dismiss(first)

    def _error(self, text: str) -> None:
        self.query_one("#error", Static).update(text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class TextInputDialog(ModalScreen[str | None]):
    """One line of text, checked by `check` (returns an error or None) before it closes."""

    DEFAULT_CSS = DIALOG_CSS.format(name="TextInputDialog")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        prompt: str,
        *,
        placeholder: str = "",
        value: str = "",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self._title = title
        self._prompt = prompt
        self._placeholder = placeholder
        self._value = value
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="dialog-title")
            yield Label(self._prompt)
            yield TextBox(self._value, placeholder=self._placeholder, id="text")
            yield Static("", classes="dialog-error", id="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#text", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        value = self.query_one("#text", Input).value
        error = self._check(value) if self._check else None
        if error:
            self.query_one("#error", Static).update(error)
            return
        self.dismiss(value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
