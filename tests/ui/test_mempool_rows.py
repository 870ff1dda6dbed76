"""The open-transactions screen shows at most MAX_ROWS rows, the oldest, and says how
many wait in all: a table row for each of tens of thousands of pending transactions
took seconds of the screen's time on every refresh."""

from __future__ import annotations

import pytest

from tuichain.app import TuichainApp
from tuichain.core.amounts import format_amount
from tuichain.screens import mempool

from .conftest import MakeNode, app_started, mine_block, table_rows, until

SIZE = (100, 34)


async def test_a_big_mempool_shows_its_oldest_rows_and_counts_them_all(
    make_node: MakeNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mempool, "MAX_ROWS", 5)
    node = await make_node("a", wallet=True)
    await mine_block(node)
    to = node.format_address(bytes([9]) * 20)
    txs = [await node.send(to, 1_000, 1_000 + n) for n in range(8)]
    app = TuichainApp(node.config, node=node)
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        await pilot.press("o")
        await until(pilot, lambda: len(table_rows(pilot, "#mempool")) == 5, "five rows")
        title = str(app.screen.query_one("#mempool-title").render())
        assert "8 waiting, the oldest 5 shown" in title
        assert f"fees {format_amount(sum(tx.fee for tx in txs))}" in title  # of all 8
