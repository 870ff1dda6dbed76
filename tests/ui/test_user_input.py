"""Odd input a person can type or leave lying around: it gets a plain answer, never a crash."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from tuichain.app import TuichainApp
from tuichain.core.wallet import wallet_path
from tuichain.screens.dialogs import InfoDialog, PassphraseDialog, TextInputDialog
from tuichain.screens.explorer import ExplorerScreen
from tuichain.screens.peers import PeersScreen
from tuichain.screens.wallet import WalletScreen

from .conftest import MakeConfig, app_started, burst, static_text, until

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


def value(app: TuichainApp, selector: str) -> str | None:
    """The text in a box of the current screen; None while there is no such box (or no
    screen: a burst that reached q ends the app)."""
    try:
        return app.screen.query_one(selector, Input).value
    except Exception:
        return None


def focused_id(app: TuichainApp) -> str | None:
    return getattr(app.screen.focused, "id", None)


async def test_a_burst_of_keys_behind_s_and_enter_lands_in_the_send_form(
    make_config: MakeConfig,
) -> None:
    # A key that moves focus used to move it one message later: keys already queued
    # behind it went to the history table and bubbled up as screen keys (q quit, c
    # copied, m opened mining), and the amount typed right after Enter landed in the
    # address box. A busy app or a fast typist delivers exactly such bursts.
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await node.create_wallet(None)
        await until(pilot, lambda: node.address in static_text(pilot, "#address"), "the address")
        address = node.address
        assert address is not None
        burst(pilot, ["s", *address, "enter", *"1.5"])
        await until(pilot, lambda: value(app, "#amount") == "1.5", "the amount in its box")
        assert isinstance(app.screen, WalletScreen), app.screen
        assert app.screen.query_one("#to", Input).value == address
        assert app.screen.query_one("#amount", Input).value == "1.5"
        # Enter again moves to the fee; Escape leaves the form, and s opens it again.
        burst(pilot, ["enter"])
        await until(pilot, lambda: focused_id(app) == "fee", "the fee box focused")
        burst(pilot, ["escape"])
        await until(pilot, lambda: not isinstance(app.screen.focused, Input), "the form left")
        burst(pilot, ["s", "x"])
        # The box selects its text as it takes focus, so x replaces the address. (This
        # waited for a value ending in x: a bech32 address does one time in 32, and then
        # the wait ended before s and x had been handled, and focus was still elsewhere.)
        await until(pilot, lambda: value(app, "#to") == "x", "x typed in To")
        assert focused_id(app) == "to"


async def test_a_burst_of_keys_behind_a_lands_in_the_peer_url_box(
    make_config: MakeConfig,
) -> None:
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PeersScreen), "the peers screen")
        url = "http://127.0.0.1:5001"  # p would reopen peers, h open help
        burst(pilot, ["a", *url])
        await until(pilot, lambda: value(app, "#peers-url") == url, "the URL in its box")
        assert isinstance(app.screen, PeersScreen), app.screen
        # In the box, a is a letter: typed, not a second "add".
        burst(pilot, ["a"])
        await until(pilot, lambda: value(app, "#peers-url") == url + "a", "a typed as a letter")


async def test_a_burst_of_keys_behind_slash_lands_in_the_explorer_search(
    make_config: MakeConfig,
) -> None:
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExplorerScreen), "the explorer")
        prefix = "00bad0"  # b would show the side branches
        burst(pilot, ["slash", *prefix])
        await until(pilot, lambda: value(app, "#explorer-search") == prefix, "the prefix typed")
        assert not app.screen.has_class("branches")


async def test_editing_keys_in_a_burst_act_in_order_with_the_text(
    make_config: MakeConfig,
) -> None:
    # Textual types a character in the box's own queue but ran the box's key bindings
    # (backspace, ctrl+a, ctrl+k, the arrows) only after the key had bubbled up to the
    # app: "ctrl+a ctrl+k abc" typed abc, then went home and erased it all.
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PeersScreen), "the peers screen")
        await pilot.press("a", *"old")
        await until(pilot, lambda: value(app, "#peers-url") == "old", "the first text")
        burst(pilot, ["ctrl+a", "ctrl+k", *"abc", "backspace", "d", "left", "left", "x"])
        await until(pilot, lambda: value(app, "#peers-url") == "axbd", "the burst in order",
                    limit=10)
        await pilot.pause(0.2)
        assert value(app, "#peers-url") == "axbd"  # and nothing came after


async def test_a_passphrase_typed_twice_in_one_burst_lands_in_both_boxes(
    make_config: MakeConfig,
) -> None:
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, PassphraseDialog)
                    and focused_id(app) == "pass1", "the passphrase dialog")
        burst(pilot, [*"hunter2", "enter", *"hunter2"])
        await until(pilot, lambda: value(app, "#pass2") == "hunter2", "the second box filled",
                    limit=10)
        assert value(app, "#pass1") == "hunter2"
        burst(pilot, ["enter"])
        await until(pilot, lambda: node.wallet is not None, "the wallet")
        assert node.wallet_locked is False


async def test_a_passphrase_typed_right_behind_n_lands_in_the_dialog(
    make_config: MakeConfig,
) -> None:
    # The dialog used to be opened by a worker, after the keys behind n had been routed
    # to the wallet screen: their letters ran app keys (q quit, t opened the retarget
    # screen) and the passphrase never reached the dialog.
    from tuichain.core.wallet import load_wallet

    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        burst(pilot, ["n", *"quiet", "enter", *"quiet", "enter"])
        await until(pilot, lambda: node.wallet is not None, "the wallet", limit=15)
        assert app.is_running
        assert isinstance(app.screen, WalletScreen), app.screen
        info, _ = load_wallet(node.config.data_dir, "quiet")
        assert info.address(node.params.hrp) == node.address


async def test_a_passphrase_typed_right_behind_u_unlocks(make_config: MakeConfig) -> None:
    from tuichain.node import Node

    config = make_config("a")
    first = Node(config)
    await first.start()
    await first.create_wallet("quiet")
    await first.stop()
    app = TuichainApp(config)
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await until(pilot, lambda: node.wallet_locked, "the locked wallet")
        burst(pilot, ["u", *"quiet", "enter"])
        await until(pilot, lambda: not node.wallet_locked, "the wallet unlocked", limit=15)
        assert app.is_running
        assert isinstance(app.screen, WalletScreen), app.screen


async def test_the_palette_opens_the_new_wallet_dialog(make_config: MakeConfig) -> None:
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"New wallet")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PassphraseDialog)
                    and focused_id(app) == "pass1", "the passphrase dialog")
