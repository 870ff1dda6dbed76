"""Odd input a person can type or leave lying around: it gets a plain answer, never a crash."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from tuichain.app import TuichainApp
from tuichain.core.wallet import wallet_path
from tuichain.screens.dialogs import InfoDialog, TextInputDialog

from .conftest import MakeConfig, app_started, static_text, until

SIZE = (80, 24)


async def test_markup_characters_in_a_peer_url_show_up_as_typed(make_config: MakeConfig) -> None:
    # Toasts parse markup by default: "[/b]" in a typed URL or a peer's reason ended the app.
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app_started(pilot)
        app.action_add_peer()
        await until(
            pilot,
            lambda: isinstance(app.screen, TextInputDialog) and bool(app.screen.query("#text")),
            "the peer dialog",
        )
        app.screen.query_one("#text", Input).value = "http://127.0.0.1:1/[/b]"
        await pilot.press("enter")
        await pilot.pause(0.3)
        # The dialog refuses a URL with a path (the node's own rule) and stays open.
        assert isinstance(app.screen, TextInputDialog)
        await pilot.press("escape")
        # Text from peers (reject and ban reasons) reaches toasts too: shown as typed.
        app.notify("peer 127.0.0.1:1 banned: sent [/b] garbage")
        await until(
            pilot,
            lambda: any("[/b]" in n.message for n in app._notifications),
            "the toast",
        )
        await pilot.pause(0.3)  # the toast renders
        assert app.is_running
        assert app.return_code is None


async def test_explorer_search_answers_a_huge_height_and_a_bad_address_plainly(
    make_config: MakeConfig,
) -> None:
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await pilot.press("e")
        await until(pilot, lambda: bool(app.screen.query("#explorer-blocks")), "the explorer")
        for query, expect in [
            ("9" * 30, "no block at height"),
            ("²", "not found"),
            (f"{node.params.hrp}1qqq", "not a valid address"),
        ]:
            await pilot.press("slash")
            app.screen.query_one("#explorer-search", Input).value = query
            await pilot.press("enter")
            await until(
                pilot,
                lambda e=expect: e in static_text(pilot, "#explorer-msg"),
                f"the message {expect!r}",
            )
            text = static_text(pilot, "#explorer-msg")
            assert "SQLite" not in text
            assert text.count("not a valid address") <= 1, text


async def test_an_unreadable_wallet_file_stops_the_node_and_says_why(
    make_config: MakeConfig,
) -> None:
    config = make_config("a")
    await asyncio.to_thread(config.data_dir.mkdir, parents=True)
    path = wallet_path(config.data_dir)
    await asyncio.to_thread(path.write_text, "{not json")
    await asyncio.to_thread(path.chmod, 0o600)
    app = TuichainApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.start_error is not None, "the start error")
        assert app.start_error is not None
        assert str(path) in app.start_error
        assert "not valid JSON" in app.start_error
        assert "--no-wallet" in app.start_error
        await until(pilot, lambda: isinstance(app.screen, InfoDialog), "the start error dialog")
        assert not app.node_ready
    assert await asyncio.to_thread(path.read_text) == "{not json"
