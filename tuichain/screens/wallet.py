"""Wallet: create or unlock, the address, balances, a checked send form, and history."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, Label, Static

from .. import messages as msg
from ..actions import app_node, error_text
from ..core.amounts import format_amount, parse_amount
from ..core.errors import CoreError
from ..core.payment import check_payment
from ..display.chaintext import short_hash, short_text
from ..display.txrows import amount_change, fee_paid, tx_direction
from ..widgets.focus import focus_at_once, typing
from ..widgets.inputs import AddressInput, AmountInput
from ..widgets.live_text import LiveText
from ..widgets.refresh import Refresher
from .dialogs import ConfirmDialog, PassphraseDialog
from .explorer_details import TxScreen

if TYPE_CHECKING:
    from ..core.tx import Transaction
    from ..node import Node

HISTORY_LIMIT = 100


def _wallet_file_exists(node: Node) -> bool:
    """A wallet file the node could not load (damaged, unreadable) is still there."""
    return os.path.lexists(node.wallet_path)


class WalletScreen(Screen[None]):
    AUTO_FOCUS = "#history"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: they move focus as their key arrives (widgets/focus.py says why).
        Binding("s", "focus_send", "Send", priority=True),
        Binding("enter", "next_field", "Next field", show=False, priority=True),
        Binding("c", "copy_address", "Copy"),
        # Priority too: their dialog is open, its box focused, before the next key is
        # routed, so a passphrase typed right behind them lands in it.
        Binding("n", "create_wallet", "New wallet", show=False, priority=True),
        Binding("u", "unlock", "Unlock", show=False, priority=True),
        Binding("escape", "leave_form", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._refresher = Refresher(self, self._reload)
        self._fee_touched = False
        self._setting_fee = False
        self._suggested_fee: int | None = None
        self._state = ""
        self._amount_message = False
        self._history_shown: list[tuple[str, bytes]] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="wallet-setup"):
            yield Static("Starting the node…", id="setup-text")
            with Horizontal(classes="buttons"):
                yield Button("Create wallet (n)", id="create", variant="primary", compact=True)
                yield Button("Unlock (u)", id="unlock", compact=True)
        with Vertical(id="wallet-main"):
            with Horizontal(classes="row"):
                yield Label("Address", classes="key")
                yield Static("", id="address")
            with Horizontal(classes="row"):
                yield Label("Balance", classes="key")
                yield LiveText("", id="balances")
            with Vertical(id="send-form"):
                with Horizontal(classes="row"):
                    yield Label("To", classes="key")
                    yield AddressInput(self._parse_address, id="to")
                # Its own line: beside a 48-column field, 80 columns cut the verdict short.
                yield Static("", id="to-check")
                with Horizontal(classes="row"):
                    yield Label("Amount", classes="key")
                    yield AmountInput(id="amount")
                    yield Label("Fee", classes="key-short")
                    yield AmountInput(allow_zero=True, id="fee")
                    yield Button("Send", id="send", variant="primary", compact=True)
                yield Static("", id="send-message")
            table: DataTable[Any] = DataTable(id="history", cursor_type="row", zebra_stripes=True)
            table.border_title = "History"
            yield table

    def _parse_address(self, text: str) -> bytes:
        node: Node = self.app.node  # type: ignore[attr-defined]
        return node.parse_address(text)

    def on_mount(self) -> None:
        table = self.query_one("#history", DataTable)
        self._conf_column = table.add_columns(
            "Conf", "Kind", "Counterparty", "Amount", "Fee", "Txid")[0]
        self._show_state()
        self._refresher.request(now=True)

    # ---- node events -------------------------------------------------------------------
    @on(msg.NodeMessage)
    def _node_message(self, message: msg.NodeMessage[msg.NodeEvent]) -> None:
        if isinstance(message, msg.NodeStarted | msg.NodeFailed | msg.WalletChanged):
            self._show_state()
        if isinstance(message, msg.WalletChanged):
            self._refresher.request(now=True)
        elif isinstance(
            message, msg.NodeStarted | msg.NewTip | msg.Reorg | msg.TxAccepted | msg.BlockFound
        ):
            self._refresher.request()

    def on_screen_resume(self) -> None:
        self._refresher.request()

    # ---- state -------------------------------------------------------------------------
    def _show_state(self) -> None:
        node = app_node(self.app)
        setup = self.query_one("#wallet-setup")
        main = self.query_one("#wallet-main")
        text = self.query_one("#setup-text", Static)
        create = self.query_one("#create", Button)
        unlock = self.query_one("#unlock", Button)
        if node is None:
            state = f"none:{getattr(self.app, 'start_error', '')}"
        elif node.wallet is None:
            state = "unreadable" if _wallet_file_exists(node) else "no-wallet"
        else:
            state = "locked" if node.wallet_locked else "ready"
        if state == self._state:
            return
        self._state = state
        if node is None or node.wallet is None:
            setup.display, main.display = True, False
            unlock.display = False
            create.display = node is not None and state != "unreadable"
            error = getattr(self.app, "start_error", None)
            if node is None:
                text.update(
                    Text(f"The node did not start: {error}" if error else "Starting the node…")
                )
            elif state == "unreadable":
                text.update(
                    Text.assemble(
                        ("The wallet file could not be read.\n\n", "bold red"),
                        (node.wallet_path, "italic"),
                        " exists but is not a wallet this node can load (the Log screen, l, "
                        "says why). It is left untouched: repair it or move it away, then "
                        "restart the node.\n",
                    )
                )
            else:
                text.update(
                    Text.assemble(
                        ("No wallet yet.\n\n", "bold"),
                        "A wallet is one key pair kept in ",
                        (node.wallet_path, "italic"),
                        ". You can protect it with a passphrase (asked twice) or leave it "
                        "empty. Mining pays to this wallet.\n",
                    )
                )
                focus_at_once(self, create)
            return
        setup.display, main.display = False, True
        self.query_one("#address", Static).update(Text(node.address or "", style="bold"))
        focus_at_once(self, self.query_one("#history", DataTable))
        if node.wallet_locked:
            self._message(
                "Wallet is encrypted and locked: press u to unlock it to send.", "warning"
            )

    def _message(self, text: str, kind: str = "info") -> None:
        self._amount_message = False
        style = {"error": "bold red", "warning": "yellow", "ok": "green"}.get(kind, "")
        self.query_one("#send-message", Static).update(Text(text, style=style))

    async def _reload(self) -> None:
        node = app_node(self.app)
        self._show_state()
        if node is None or node.wallet is None:
            return
        me = node.wallet.address_digest
        account = await node.wallet_account()
        history = await node.ledger.history(me, limit=HISTORY_LIMIT)
        entries = await node.ledger.mempool_entries_of(me)
        fee = await node.suggest_fee()
        if not self.is_mounted or account is None:
            return
        self._suggested_fee = fee
        pending = account.pending_delta
        # Only what changed is redrawn (a rebuild took up to 45 ms a refresh during a
        # sync, and sent the history's cursor back to the top).
        self.query_one("#balances", LiveText).show(
            Text.assemble(
                ("confirmed ", "dim"),
                (format_amount(account.balance), "bold"),
                ("   pending ", "dim"),
                (
                    f"{'+' if pending > 0 else ''}{format_amount(pending)}",
                    "yellow" if pending else "",
                ),
                ("   available ", "dim"),
                (format_amount(account.available), "bold green"),
            )
        )
        if not self._fee_touched:
            self._setting_fee = True
            self.query_one("#fee", AmountInput).value = format_amount(fee)
            self._setting_fee = False
        rows = [("pending", entry.tx) for entry in entries]
        rows += [(str(item.confirmations), item.tx) for item in history]
        shown = [(conf, tx.txid) for conf, tx in rows]
        before, self._history_shown = self._history_shown, shown
        if shown == before:
            return
        table = self.query_one("#history", DataTable)
        ids = [t for _, t in shown]
        if (before is not None and [t for _, t in before] == ids
                and len(set(ids)) == len(ids)):
            # The same transactions, a block deeper: only their confirmations change.
            for (conf, txid), (old, _) in zip(shown, before, strict=True):
                if conf != old:
                    table.update_cell(txid.hex(), self._conf_column, self._conf_text(conf))
            return
        cursor = table.cursor_row
        table.clear()
        for conf, tx in rows:
            self._add_row(table, node, conf, tx, me)
        if rows:  # the same row number, so browsing is not thrown back by a new block
            table.move_cursor(row=min(cursor, len(rows) - 1), animate=False)

    def _add_row(
        self, table: DataTable[Any], node: Node, conf: str, tx: Transaction, me: bytes
    ) -> None:
        kind = tx_direction(tx, me)
        other = tx.recipient if kind == "out" else tx.sender_address
        who = "coinbase" if tx.is_coinbase else short_text(node.format_address(other), 10, 6)
        change = amount_change(tx, me)
        fee = fee_paid(tx, me)
        style = "green" if change > 0 else "red" if change < 0 else ""
        table.add_row(
            self._conf_text(conf),
            kind,
            who,
            Text(
                f"{'+' if change > 0 else ''}{format_amount(change)}", style=style, justify="right"
            ),
            # Only a fee this wallet paid, as the change it made: Amount + Fee is the
            # row's effect on the balance. A received payment's fee was the sender's.
            Text(format_amount(-fee) if fee else "", style="red" if fee else "",
                 justify="right"),
            short_hash(tx.txid, 8, 4),
            key=None if tx.txid.hex() in table.rows else tx.txid.hex(),
        )

    @staticmethod
    def _conf_text(conf: str) -> Text:
        return Text(conf, style="yellow" if conf == "pending" else "")

    @on(DataTable.RowSelected, "#history")
    def _open_tx(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.push_screen(TxScreen(bytes.fromhex(event.row_key.value)))

    # ---- form --------------------------------------------------------------------------
    @on(Input.Changed, "#to")
    def _to_changed(self, event: Input.Changed) -> None:
        check = self.query_one("#to-check", Static)
        check.display = bool(event.value.strip())
        if not event.value.strip():
            check.update("")
        elif event.validation_result is not None and event.validation_result.is_valid:
            check.update(Text("✓ valid", style="green"))
        else:
            reason = self.query_one("#to", AddressInput).error or "invalid"
            check.update(Text(f"✗ {reason}", style="red"))

    @on(Input.Changed, "#amount")
    def _amount_changed(self, event: Input.Changed) -> None:
        # Only replace a message this field put there (not "Sent …" or a send error).
        error = self.query_one("#amount", AmountInput).error if event.value.strip() else None
        if error:
            self._message(f"Amount: {error}", "error")
            self._amount_message = True
        elif self._amount_message:
            self._message("")

    @on(Input.Changed, "#fee")
    def _fee_changed(self) -> None:
        if not self._setting_fee:
            self._fee_touched = True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("focus_send", "create_wallet", "unlock"):
            return not typing(self)
        if action == "next_field":
            return self._next_field() is not None
        return True

    def _next_field(self) -> Input | None:
        """Enter in the address box moves to the amount, in the amount to the fee."""
        after = {"to": "#amount", "amount": "#fee"}.get(getattr(self.focused, "id", None) or "")
        return None if after is None else self.query_one(after, Input)

    def action_next_field(self) -> None:
        field = self._next_field()
        if field is not None:
            focus_at_once(self, field)

    @on(Input.Submitted, "#fee")
    @on(Button.Pressed, "#send")
    def _send_pressed(self) -> None:
        self.action_send()

    def action_focus_send(self) -> None:
        node = app_node(self.app)
        if node is None or node.wallet is None:
            self.notify("Create a wallet first (n).", severity="warning")
            return
        focus_at_once(self, self.query_one("#to", Input))

    def action_leave_form(self) -> None:
        if isinstance(self.focused, Input):
            focus_at_once(self, self.query_one("#history", DataTable))

    def action_copy_address(self) -> None:
        node = app_node(self.app)
        if node is None or node.address is None:
            self.notify("No wallet address yet.", severity="warning")
            return
        self.app.copy_text(node.address, "Address")  # type: ignore[attr-defined]

    def _form_values(self) -> tuple[str, int, int] | str:
        """(to, amount, fee) if the form is well formed, else what is wrong."""
        to = self.query_one("#to", AddressInput)
        if to.parsed is None:
            return f"Recipient: {to.error}" if to.value.strip() else "Enter a recipient address."
        try:
            amount = parse_amount(self.query_one("#amount", Input).value)
        except CoreError as exc:
            return f"Amount: {exc.reason}"
        fee_text = self.query_one("#fee", Input).value.strip()
        if not fee_text:
            # An empty fee field means the suggested fee, never 0 by accident.
            if self._suggested_fee is None:
                return "Fee: the suggested fee is not known yet; type one or wait a moment."
            return to.value.strip(), amount, self._suggested_fee
        try:
            fee = parse_amount(fee_text, allow_zero=True)
        except CoreError as exc:
            return f"Fee: {exc.reason}"
        return to.value.strip(), amount, fee

    def action_send(self) -> None:
        node = app_node(self.app)
        if node is None or node.wallet is None:
            self._message("Create or load a wallet first.", "error")
            return
        values = self._form_values()
        if isinstance(values, str):
            self._message(values, "error")
            return
        self._send(*values)

    @work(exclusive=True, group="wallet-send", exit_on_error=False)
    async def _send(self, to: str, amount: int, fee: int) -> None:
        node = app_node(self.app)
        if node is None:
            return
        try:
            account = await node.wallet_account()
            if account is None:
                raise RuntimeError("no wallet")
            check_payment(amount=amount, fee=fee, available=account.available,
                          recipient=node.parse_address(to), own_address=account.address)
        except Exception as exc:
            self._message(f"Not sent: {error_text(exc)}", "error")
            return
        if node.wallet_locked and not await self._unlock(node):
            self._message("Not sent: the wallet is still locked.", "error")
            return
        try:
            rows = [
                ("To", to),
                ("Amount", format_amount(amount)),
                ("Fee", format_amount(fee)),
                ("Nonce", str(account.next_nonce)),
                ("Total", format_amount(amount + fee)),
                ("Left", format_amount(account.available - amount - fee)),
            ]
            confirmed = await self.app.push_screen_wait(
                ConfirmDialog(
                    "Sign and send this transaction?",
                    rows,
                    question="Sign with this wallet's key and broadcast?",
                )
            )
            if not confirmed:
                self._message("Cancelled: nothing was sent.")
                return
            tx = await node.send(to, amount, fee)
        except Exception as exc:
            self._message(f"Not sent: {error_text(exc)}", "error")
            return
        self._message(f"Sent {format_amount(amount)} (txid {short_hash(tx.txid)}).", "ok")
        self.notify(f"Sent {format_amount(amount)} to {short_text(to)}", title="Sent")
        self.query_one("#amount", Input).value = ""
        self._fee_touched = False
        # Out of the form, so the screen keys (o, m, …) work again at once.
        focus_at_once(self, self.query_one("#history", DataTable))
        self._refresher.request(now=True)

    # ---- create / unlock ---------------------------------------------------------------
    # The dialogs are pushed in the key's own action, which returns once the dialog is
    # mounted with its box focused: the app routes the keys behind n or u only then.
    # (Pushed from a worker, they came after those keys had gone to this screen, where
    # their letters ran app keys: q quit, t opened another screen.)
    async def action_create_wallet(self) -> None:
        node = app_node(self.app)
        if node is None:
            self.notify("The node is still starting.", severity="warning")
        elif node.wallet is not None:
            self.notify(f"This node already has a wallet: {node.wallet_path}", severity="warning")
        elif _wallet_file_exists(node):
            self.notify(
                f"{node.wallet_path} exists but could not be read; it is left untouched.",
                severity="warning",
            )
        else:
            dialog = PassphraseDialog(
                "New wallet",
                confirm=True,
                allow_empty=True,
                hint="Choose a passphrase to encrypt the key, or leave both empty for none.",
            )
            await self.app.push_screen(dialog, self._chosen)

    def _chosen(self, passphrase: str | None) -> None:
        self._create(passphrase)

    @work(exclusive=True, group="wallet-create", exit_on_error=False)
    async def _create(self, passphrase: str | None) -> None:
        node = app_node(self.app)
        if node is None or passphrase is None:
            return
        try:
            await node.create_wallet(passphrase or None)
        except Exception as exc:
            self.notify(f"Wallet not created: {error_text(exc)}", severity="error")
            return
        self.notify(f"Wallet created: {node.address}", title="Wallet")
        self._show_state()
        self._refresher.request(now=True)
        await asyncio.sleep(0)
        focus_at_once(self, self.query_one("#history", DataTable))

    async def action_unlock(self) -> None:
        node = app_node(self.app)
        if node is not None and node.wallet_locked:
            await self.app.push_screen(PassphraseDialog("Unlock wallet"), self._typed)

    def _typed(self, passphrase: str | None) -> None:
        self._unlock_worker(passphrase)

    @work(exclusive=True, group="wallet-unlock", exit_on_error=False)
    async def _unlock_worker(self, passphrase: str | None) -> None:
        node = app_node(self.app)
        if node is not None and passphrase is not None and await self._unlock(node, passphrase):
            self._show_state()

    async def _unlock(self, node: Node, passphrase: str | None = None) -> bool:
        """Try `passphrase` (when given), then ask until it is right or the user cancels."""
        while True:
            if passphrase is None:
                passphrase = await self.app.push_screen_wait(PassphraseDialog("Unlock wallet"))
                if passphrase is None:
                    return False
            try:
                await node.unlock_wallet(passphrase)
            except Exception as exc:
                self.notify(f"Not unlocked: {error_text(exc)}", severity="error")
                passphrase = None
                continue
            self._message("Wallet unlocked.", "ok")
            return True

    @on(Button.Pressed, "#create")
    async def _create_pressed(self) -> None:
        await self.action_create_wallet()

    @on(Button.Pressed, "#unlock")
    async def _unlock_pressed(self) -> None:
        await self.action_unlock()
