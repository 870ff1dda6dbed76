"""The wallet screen redraws only what a new block changed: the history's rows stay
(their confirmations change in place) and its cursor stays where the user put it. It
cleared and rebuilt the table on every refresh, sending the cursor back to the top,
many times a second while a sync moved the tip."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.builders import extend, genesis_link
from tuichain.app import TuichainApp
from tuichain.core.params import REGTEST

from .conftest import MakeConfig, app_started, static_text, table_rows, until

SIZE = (80, 24)


async def test_a_new_block_keeps_the_history_cursor_and_updates_confirmations(
    make_config: MakeConfig,
) -> None:
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await node.create_wallet(None)
        assert node.wallet is not None
        mine = node.wallet.address_digest
        links = extend(REGTEST, genesis_link(), 3, miner=mine)
        links += extend(REGTEST, links[-1], 2, miner=bytes(20), tag=b"other")
        for link in links[:3]:
            assert (await node.ledger.submit_block(link.block)).status == "connected"
        await until(pilot, lambda: [r[0] for r in table_rows(pilot, "#history")] == [
            "1", "2", "3"], "three mined rows")
        table = app.screen.query_one("#history", DataTable)
        assert app.screen.focused is table
        await pilot.press("down", "down")
        assert table.cursor_row == 2
        for depth, link in enumerate(links[3:], start=2):
            assert (await node.ledger.submit_block(link.block)).status == "connected"
            want = [str(depth), str(depth + 1), str(depth + 2)]
            await until(pilot, lambda want=want: [r[0] for r in table_rows(pilot, "#history")]
                        == want, f"confirmations {want}")
            assert table.cursor_row == 2, "the cursor went back to the top"
        # A new row of its own is a new table: the cursor keeps its row number.
        more = extend(REGTEST, links[-1], 1, miner=mine, tag=b"mine again")[0]
        assert (await node.ledger.submit_block(more.block)).status == "connected"
        await until(pilot, lambda: len(table_rows(pilot, "#history")) == 4, "the new row")
        assert [r[0] for r in table_rows(pilot, "#history")] == ["1", "4", "5", "6"]
        assert table.cursor_row == 2


async def test_a_wallet_made_behind_the_dashboards_back_shows_at_once(
    make_config: MakeConfig,
) -> None:
    # The control channel makes one for `tuichain mine start`; the screens said "No
    # wallet yet" until a block happened to make them reload.
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await until(pilot, lambda: "No wallet yet" in static_text(pilot, "#setup-text"),
                    "the no-wallet screen")
        await pilot.pause(0.6)  # the reloads the start asked for are over
        await node.create_wallet(None)
        assert node.address is not None
        await until(pilot, lambda: node.address in static_text(pilot, "#address"),
                    "the new wallet's address", limit=5)
        assert not app.screen.query_one("#wallet-setup").display
