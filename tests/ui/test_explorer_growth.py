"""The explorer's block table stays bounded while new tips keep coming: rows added
above the newest one grew the table without end (each refresh then sorted and drew a
longer table), so a node left on the explorer through a sync slowed down with it."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable

from tests.builders import extend, genesis_link
from tuichain.app import TuichainApp
from tuichain.core.params import REGTEST
from tuichain.screens.explorer import MAX_RELOAD, ExplorerScreen

from .conftest import MakeConfig, app_started, table_rows, until

SIZE = (80, 24)


async def test_the_table_stays_bounded_and_newest_first_as_tips_arrive(
    make_config: MakeConfig,
) -> None:
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExplorerScreen), "the explorer")
        links = extend(REGTEST, genesis_link(), MAX_RELOAD + 100)
        for start in range(0, len(links), 20):  # a page's worth at most between looks
            for link in links[start:start + 20]:
                assert (await node.ledger.submit_block(link.block)).status == "connected"
            height = links[min(start + 19, len(links) - 1)].height
            await until(pilot, lambda height=height: table_rows(pilot, "#explorer-blocks")[:1]
                        == [[str(height), *table_rows(pilot, "#explorer-blocks")[0][1:]]],
                        f"block {height} on top")
        table = app.screen.query_one("#explorer-blocks", DataTable)
        assert table.row_count <= MAX_RELOAD, table.row_count
        heights = [int(r[0]) for r in table_rows(pilot, "#explorer-blocks")]
        assert heights == sorted(heights, reverse=True)
        assert heights[0] == len(links)
        assert heights == list(range(len(links), len(links) - len(heights), -1))


async def test_after_a_fast_sync_the_table_shows_the_new_tip(make_config: MakeConfig) -> None:
    # While the tip jumps a page or more between looks the table waits (redrawing it
    # took 30-40 ms each time); once the tip stops, the next look rebuilds it.
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExplorerScreen), "the explorer")
        await until(pilot, lambda: bool(table_rows(pilot, "#explorer-blocks")), "block 0")
        links = extend(REGTEST, genesis_link(), 150)
        results = await asyncio.gather(*(node.ledger.submit_block(x.block) for x in links))
        assert {r.status for r in results} == {"connected"}
        await until(pilot, lambda: table_rows(pilot, "#explorer-blocks")[0][0] == "150",
                    "block 150 on top")
        heights = [int(r[0]) for r in table_rows(pilot, "#explorer-blocks")]
        assert heights == list(range(150, 150 - len(heights), -1))
        assert "syncing" not in str(app.screen.query_one("#explorer-title").render())
