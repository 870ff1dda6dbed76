"""Pilot tests of the app shell, wallet, mining and open-transactions screens on real nodes."""

from __future__ import annotations

import logging
import socket
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from tuichain.app import TuichainApp
from tuichain.core.amounts import format_amount
from tuichain.core.events import LogEvent
from tuichain.core.params import COIN, REGTEST
from tuichain.screens.dialogs import ConfirmDialog, InfoDialog, PassphraseDialog
from tuichain.screens.explorer_details import TxScreen
from tuichain.screens.wallet import WalletScreen
from tuichain.widgets.status_bar import StatusBar

from .conftest import (
    MakeConfig,
    MakeNode,
    app_started,
    mine_block,
    static_text,
    table_rows,
    until,
    until_quit,
)

SIZE = (80, 24)
REWARD = REGTEST.subsidy(1)


def dialog_text(pilot: Pilot[Any]) -> str:
    return " ".join(str(w.render()) for w in pilot.app.screen.query(".dialog-value"))


async def type_into(pilot: Pilot[Any], selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.pause()
    await pilot.press(*text)


async def test_create_mine_send_and_receive_across_two_nodes(
    make_config: MakeConfig,
    make_node: MakeNode,
) -> None:
    other = await make_node("b", wallet=True)
    assert other.address is not None
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        assert isinstance(app.screen, WalletScreen)
        assert "No wallet yet" in static_text(pilot, "#setup-text")
        await until(pilot, lambda: bool(app.screen.query(StatusBar)), "the status bar")

        # Create a wallet with no passphrase: both fields left empty.
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, PassphraseDialog), "the dialog")
        await pilot.press("enter", "enter")
        await until(pilot, lambda: node.address is not None, "the wallet")
        await until(
            pilot, lambda: node.address in static_text(pilot, "#address"), "the address on screen"
        )
        assert not node.wallet_locked

        await node.net.connect(other.listen_url)

        # Mine one block from the mining screen; the wallet shows the reward.
        await pilot.press("m")
        await until(
            pilot, lambda: "Idle" in static_text(pilot, "#mining-state"), "the mining screen"
        )
        await pilot.press("b")
        await until(pilot, lambda: node.ledger.tip.height == 1, "block 1")  # type: ignore[union-attr]
        await pilot.press("w")
        await until(
            pilot,
            lambda: f"available {format_amount(REWARD)}" in static_text(pilot, "#balances"),
            "the reward in the balance",
        )
        await until(
            pilot,
            lambda: (
                table_rows(pilot, "#history")[:1] and table_rows(pilot, "#history")[0][1] == "mined"
            ),
            "the mined row",
        )
        await until(
            pilot,
            lambda: other.ledger.tip.height == 1,  # type: ignore[union-attr]
            "the peer to receive block 1",
        )

        # Send 1.5 to the other node through the form and the confirmation dialog.
        await pilot.press("s")
        assert app.screen.focused is app.screen.query_one("#to")
        await pilot.press(*other.address)
        await until(pilot, lambda: "✓ valid" in static_text(pilot, "#to-check"), "✓ valid")
        await pilot.press("enter", *"1.5", "enter")
        await until(pilot, lambda: app.screen.query_one("#fee", Input).value != "", "a fee")
        fee_text = app.screen.query_one("#fee", Input).value
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        await until(pilot, lambda: other.address in dialog_text(pilot), "what will be signed")
        values = [str(w.render()) for w in app.screen.query(".dialog-value")]
        total = format_amount(3 * COIN // 2 + int(round(float(fee_text) * COIN)))
        assert values[:5] == [other.address, "1.5", fee_text, "0", total]  # to…nonce, total
        await pilot.press("y")
        await until(pilot, lambda: node.ledger.mempool_size == 1, "the tx in our mempool")
        await until(pilot, lambda: other.ledger.mempool_size == 1, "the tx at the peer")
        await until(pilot, lambda: "Sent 1.5" in static_text(pilot, "#send-message"), "Sent")
        await until(
            pilot, lambda: table_rows(pilot, "#history")[0][0] == "pending", "the pending row"
        )

        await pilot.press("o")
        await until(pilot, lambda: len(table_rows(pilot, "#mempool")) == 1, "one open tx")
        row = table_rows(pilot, "#mempool")[0]
        assert row[0] == "→"
        assert row[4] == "1.5"
        assert row[5] == fee_text
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TxScreen), "the tx details")
        await until(
            pilot, lambda: other.address in static_text(pilot, "#detail-body"), "the recipient"
        )
        details = static_text(pilot, "#detail-body")
        assert node.address in details
        assert "signed here" in details  # its life, from the wallet
        await pilot.press("escape")

        await pilot.press("q")
        await until_quit(pilot)
    assert app.return_code == 0
    assert app.node._ledger is None  # stopped with the app

    # The recipient's own dashboard: the open transaction, then the confirmed balance.
    app_b = TuichainApp(other.config, node=other)
    async with app_b.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        await pilot.press("o")
        await until(pilot, lambda: len(table_rows(pilot, "#mempool")) == 1, "the open tx at b")
        assert table_rows(pilot, "#mempool")[0][0] == "←"
        await pilot.press("m", "b")
        await until(pilot, lambda: other.ledger.mempool_size == 0, "the tx mined")
        await pilot.press("w")
        fee = int(round(float(fee_text) * COIN))
        expected = 3 * COIN // 2 + REWARD + fee  # payment + own block's subsidy and fee
        await until(
            pilot,
            lambda: f"confirmed {format_amount(expected)}" in static_text(pilot, "#balances"),
            "the recipient's balance",
        )
        kinds = [r[1] for r in table_rows(pilot, "#history")]
        assert kinds == ["in", "mined"]  # one block, newest position first
        assert table_rows(pilot, "#history")[0][3] == "+1.5"


async def test_bad_input_shows_an_error_and_sends_nothing(
    make_config: MakeConfig,
    make_node: MakeNode,
) -> None:
    node = await make_node("a", wallet=True)
    other = await make_node("b", wallet=True)
    await mine_block(node)
    app = TuichainApp(node.config, node=node)
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        await until(pilot, lambda: "available 50" in static_text(pilot, "#balances"), "funds")

        # A typo in the address: refused as typed, and again on send.
        bad = other.address[:-1] + ("q" if other.address[-1] != "q" else "p")  # type: ignore[index]
        await type_into(pilot, "#to", bad)
        await until(pilot, lambda: "✗" in static_text(pilot, "#to-check"), "✗ on the address")
        await type_into(pilot, "#amount", "1")
        await pilot.press("enter", "enter")
        assert "Recipient:" in static_text(pilot, "#send-message")

        # A malformed amount.
        await type_into(pilot, "#to", other.address)  # type: ignore[arg-type]
        await type_into(pilot, "#amount", "1.2.3")
        assert "Amount:" in static_text(pilot, "#send-message")
        await pilot.press("enter", "enter")
        assert "Amount:" in static_text(pilot, "#send-message")

        # More than the balance: refused before any dialog or signature.
        await type_into(pilot, "#amount", "50")
        await pilot.press("enter", "enter")
        await until(
            pilot,
            lambda: "only 50 is available" in static_text(pilot, "#send-message"),
            "the over-balance error",
        )
        assert isinstance(app.screen, WalletScreen)

        # A confirmation answered "no" sends nothing either.
        await type_into(pilot, "#amount", "1")
        await pilot.press("enter", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        await pilot.press("n")
        await until(
            pilot,
            lambda: "nothing was sent" in static_text(pilot, "#send-message"),
            "the cancel message",
        )
        assert node.ledger.mempool_size == 0
        account = await node.wallet_account()
        assert account is not None
        assert account.next_nonce == 0

        # An emptied fee field means the suggested fee, never 0 by accident.
        suggested = await node.suggest_fee()
        assert suggested > 0
        await type_into(pilot, "#fee", "")
        await type_into(pilot, "#amount", "1")
        await pilot.press("enter", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        assert format_amount(COIN + suggested) in dialog_text(pilot)
        await pilot.press("n")


async def test_encrypted_wallet_unlocks_before_sending(
    make_config: MakeConfig,
    make_node: MakeNode,
) -> None:
    other = await make_node("b", wallet=True)
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, PassphraseDialog), "the dialog")
        await pilot.press(*"secret", "enter", *"secreX", "enter")
        await until(pilot, lambda: "differ" in static_text(pilot, "#error"), "the mismatch")
        assert node.wallet is None
        await pilot.press(*"secret", "enter")
        await until(pilot, lambda: node.wallet is not None, "the encrypted wallet")
        assert node.wallet.encrypted  # type: ignore[union-attr]
        await mine_block(node)

    # A fresh start finds it locked; sending asks for the passphrase first.
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        assert node.wallet_locked
        await until(pilot, lambda: "locked" in static_text(pilot, "#send-message"), "locked")
        await type_into(pilot, "#to", other.address)  # type: ignore[arg-type]
        await type_into(pilot, "#amount", "2")
        await pilot.press("enter", "enter")
        await until(pilot, lambda: isinstance(app.screen, PassphraseDialog), "unlock dialog")
        await pilot.press(*"wrong", "enter")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, PassphraseDialog)
                and app.screen.query_one("#pass1", Input).value == ""
            ),
            "a second try",
        )
        assert node.wallet_locked
        app.screen.query_one("#pass1", Input).value = "secret"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        assert not node.wallet_locked
        await pilot.press("y")
        await until(pilot, lambda: node.ledger.mempool_size == 1, "the signed tx")


async def test_port_in_use_shows_the_reason_and_quits_with_an_error(
    make_config: MakeConfig,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = TuichainApp(make_config("a", port=port))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, InfoDialog), "the error dialog")

            def details() -> str:
                return " ".join(str(w.render()) for w in app.screen.query(".dialog-value"))

            await until(pilot, lambda: "already in use" in details(), "the reason")
            assert f"port {port} is already in use" in details()
            assert not app.node_ready
            bar = app.screen_stack[0].query_one(StatusBar)
            assert "already in use" in str(bar.render())
            await pilot.press("q")
            await until_quit(pilot)
    assert app.return_code == 1


async def test_palette_mines_a_block_and_miner_events_reach_the_screen(
    make_config: MakeConfig,
) -> None:
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await pilot.press("m")
        await until(
            pilot,
            lambda: "Mining pays to your wallet" in static_text(pilot, "#mining-state"),
            "the no-wallet warning",
        )
        await pilot.press("b")  # refused: nothing to pay to
        await pilot.pause(0.2)
        assert node.ledger.tip.height == 0  # type: ignore[union-attr]
        await node.create_wallet(None)
        await pilot.press("ctrl+p")
        await pilot.press(*"mine one block")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: node.ledger.tip.height == 1, "a block from the palette")  # type: ignore[union-attr]
        await until(
            pilot,
            lambda: (
                "Blocks found by this node: 1" in str(app.screen.query_one("#found").border_title)
            ),
            "the found table",
        )
        assert table_rows(pilot, "#found")[0][0] == "1"
        assert any(type(e).__name__ == "BlockFound" for _, e in app.recent_events)
        # The node's log lines reach the app (and the Log screen) as LogEvents.
        await until(
            pilot,
            lambda: any(
                isinstance(e, LogEvent) and "mined block" in e.message for _, e in app.recent_events
            ),
            "the miner's log line as an event",
        )


async def test_leaving_the_app_gives_logging_back(make_config: MakeConfig) -> None:
    """The app sends our logger to its data directory's log file while it runs; once it
    is gone the file is closed and records reach the root handlers again (a second app
    in the same process, or a test's log capture, saw nothing before)."""
    logger = logging.getLogger("tuichain")
    before = (logger.propagate, logger.level)
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.node_ready, "the node")
        files = [h for h in logger.handlers if isinstance(h, logging.FileHandler)]
        assert files, "the app logs to its file while it runs"
    assert (logger.propagate, logger.level) == before
    assert not [h for h in logger.handlers if isinstance(h, logging.FileHandler)]
    assert all(h.stream is None or h.stream.closed for h in files)
