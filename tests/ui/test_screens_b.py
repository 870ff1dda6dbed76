"""Pilot tests of the explorer, peers and log screens against real regtest nodes."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, RichLog, Static

from tuichain.app import TuichainApp
from tuichain.config import NodeConfig, load_state
from tuichain.core.hashing import hash_to_hex
from tuichain.core.keys import PrivateKey

from .conftest import MakeConfig, MakeNode, app_started, until
from .fixed_chain import KEY_A, KEY_B, build_chain, next_block, write_wallet

SIZE = (80, 24)


async def prepare(
    config: NodeConfig, blocks: int = 0, key: PrivateKey = KEY_A, payments: bool = True
) -> NodeConfig:
    """Fill ``config``'s data directory with a fixed chain of ``blocks`` and a fixed wallet."""
    await asyncio.to_thread(config.data_dir.mkdir, parents=True)
    if blocks:
        await build_chain(config.data_dir, blocks, payments=payments)
    await asyncio.to_thread(write_wallet, config.data_dir, key)
    return config


def text_of(app: TuichainApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def rows_of(app: TuichainApp, selector: str = "#explorer-blocks") -> int:
    found = app.screen.query(selector)
    return found.first(DataTable).row_count if found else -1


def table_cells(app: TuichainApp, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def search(pilot: Pilot[Any], text: str) -> None:
    await pilot.press("slash")
    box = pilot.app.screen.query_one("#explorer-search", Input)
    box.value = text
    await pilot.press("enter")


async def test_explorer_lists_blocks_and_checks_a_merkle_proof(make_config: MakeConfig) -> None:
    app = TuichainApp(await prepare(make_config("a"), blocks=5))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await pilot.press("e")
        await until(
            pilot,
            lambda: (
                app.screen.query("#explorer-blocks")
                and app.screen.query_one("#explorer-blocks", DataTable).row_count == 6
            ),
            "genesis and five blocks in the explorer",
        )
        rows = table_cells(app, "#explorer-blocks")
        assert [r[0] for r in rows] == ["5", "4", "3", "2", "1", "0"]
        assert rows[2][3] == "3"  # block 3 carries the coinbase and two payments

        mined = await node.mining.mine_one()
        await until(
            pilot,
            lambda: table_cells(app, "#explorer-blocks")[0][0] == "6",
            "the mined block on top",
        )
        assert table_cells(app, "#explorer-blocks")[0][1].startswith(hash_to_hex(mined.hash)[:12])

        table = app.screen.query_one("#explorer-blocks", DataTable)
        table.move_cursor(row=3)  # height 3
        await pilot.press("enter")
        await until(
            pilot,
            lambda: "Block 3" in str(app.screen.query_one("#detail").border_title),
            "the block details",
        )
        await until(
            pilot,
            lambda: "hash ≤ target ✓" in text_of(app, "#detail-body"),
            "the hash checked against the target",
        )
        body = text_of(app, "#detail-body")
        assert "target   7fffff" in body
        assert "nonce" in body
        await until(
            pilot,
            lambda: app.screen.query_one("#detail-table", DataTable).row_count == 3,
            "three transactions in block 3",
        )
        await pilot.press("down", "down", "enter")  # the second payment: position 2
        await until(
            pilot,
            lambda: "proof verified ✓" in text_of(app, "#detail-body"),
            "the Merkle proof verified on screen",
        )
        assert "position 2, 2 steps" in text_of(app, "#detail-body")
        await pilot.press("escape", "escape")
        await until(pilot, lambda: bool(app.screen.query("#explorer-blocks")), "the explorer")


async def test_explorer_search_finds_heights_hashes_txids_and_addresses(
    make_config: MakeConfig,
) -> None:
    app = TuichainApp(await prepare(make_config("a"), blocks=4))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        block3 = await node.ledger.get_block(await node.ledger.hash_at(3) or b"")
        assert block3 is not None
        await pilot.press("e")
        await until(pilot, lambda: bool(app.screen.query("#explorer-blocks")), "the explorer")

        await search(pilot, "2")
        await until(
            pilot,
            lambda: (
                "Block 2" in str(getattr(app.screen.query("#detail").first(), "border_title", ""))
                if app.screen.query("#detail")
                else False
            ),
            "block 2 found by height",
        )
        await pilot.press("escape")

        await search(pilot, block3.hash_hex)
        await until(
            pilot,
            lambda: (
                bool(app.screen.query("#detail"))
                and "Block 3" in str(app.screen.query_one("#detail").border_title)
            ),
            "block 3 found by hash",
        )
        await pilot.press("escape")

        payment = block3.txs[1]
        await search(pilot, payment.txid_hex)
        await until(
            pilot,
            lambda: (
                bool(app.screen.query("#detail"))
                and "proof verified ✓" in text_of(app, "#detail-body")
            ),
            "the payment found by txid, proof verified",
        )
        await pilot.press("escape")

        address_b = node.format_address(KEY_B.address_digest)
        await search(pilot, address_b)
        await until(
            pilot,
            lambda: (
                bool(app.screen.query("#detail")) and "balance  3" in text_of(app, "#detail-body")
            ),
            "address B's balance (1 + 2 coins)",
        )
        assert len(table_cells(app, "#detail-table")) == 2
        await pilot.press("escape")

        pending = await node.send(address_b, 25_000_000, 10_000)
        await search(pilot, pending.txid_hex)
        await until(
            pilot,
            lambda: (
                bool(app.screen.query("#detail"))
                and "open (in the mempool" in text_of(app, "#detail-body")
            ),
            "the open transaction found by txid",
        )
        assert "Merkle proof: none until" in text_of(app, "#detail-body")
        await pilot.press("escape")

        for query, expect in [
            ("999", "no block at height 999"),
            ("ab" * 32, "not found"),
            (address_b[:-1] + ("q" if address_b[-1] != "q" else "p"), "not a valid address"),
            ("hello", "not found"),
        ]:
            await search(pilot, query)
            await until(
                pilot,
                lambda e=expect: e in text_of(app, "#explorer-msg"),
                f"the message {expect!r}",
            )
            assert not app.screen.query("#detail")


async def test_explorer_shows_side_branches(make_config: MakeConfig) -> None:
    app = TuichainApp(await prepare(make_config("a"), blocks=4))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        fork = await next_block(
            node.ledger, KEY_B.address_digest, parent=await node.ledger.hash_at(2), spacing=61
        )
        assert (await node.ledger.submit_block(fork, "test")).status == "side-branch"
        await pilot.press("e")
        await until(pilot, lambda: bool(app.screen.query("#explorer-blocks")), "the explorer")
        await pilot.press("b")
        await until(
            pilot, lambda: len(table_cells(app, "#explorer-branches")) == 1, "one side branch"
        )
        tip, tip_hash, fork_at, length = table_cells(app, "#explorer-branches")[0][:4]
        assert (tip, fork_at, length) == ("3", "2", "1")
        assert tip_hash.startswith(fork.hash_hex[:12])
        await pilot.press("enter")
        await until(
            pilot,
            lambda: (
                bool(app.screen.query("#detail-body"))
                and "side branch" in text_of(app, "#detail-body")
            ),
            "the branch block",
        )


async def test_explorer_follows_a_reorg(make_config: MakeConfig) -> None:
    app = TuichainApp(await prepare(make_config("a"), blocks=4))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await pilot.press("e")
        await until(pilot, lambda: rows_of(app) == 5, "five blocks")
        old_tip = table_cells(app, "#explorer-blocks")[0][1]
        parent = await node.ledger.hash_at(2)
        branch = []
        for _ in range(3):  # heights 3, 4, 5 on block 2: more work than the chain
            block = await next_block(node.ledger, KEY_B.address_digest, parent=parent, spacing=61)
            await node.ledger.submit_block(block, "test")
            branch.append(block)
            parent = block.hash
        assert node.ledger.tip.hash == branch[-1].hash  # type: ignore[union-attr]
        await until(pilot, lambda: rows_of(app) == 6, "the new chain of six blocks")
        shown = [r[1][:12] for r in table_cells(app, "#explorer-blocks")[:3]]
        assert shown == [b.hash_hex[:12] for b in reversed(branch)]
        await pilot.press("b")
        await until(
            pilot, lambda: len(table_cells(app, "#explorer-branches")) == 1, "the old chain"
        )
        assert table_cells(app, "#explorer-branches")[0][1] == old_tip


async def test_explorer_loads_pages_as_the_cursor_moves(make_config: MakeConfig) -> None:
    app = TuichainApp(await prepare(make_config("a"), blocks=120, payments=False))
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        await pilot.press("e")
        await until(pilot, lambda: rows_of(app) == 50, "the newest page of 50")
        table = app.screen.query_one("#explorer-blocks", DataTable)
        table.move_cursor(row=45)
        await until(pilot, lambda: rows_of(app) == 100, "a second page")
        table.move_cursor(row=95)
        await until(pilot, lambda: rows_of(app) == 121, "the rest down to genesis")
        heights = [int(r[0]) for r in table_cells(app, "#explorer-blocks")]
        assert heights == list(range(120, -1, -1))


async def test_peers_screen_adds_disconnects_bans_and_resolves(
    make_config: MakeConfig, make_node: MakeNode
) -> None:
    node_b = await make_node("b", wallet=True)
    app = TuichainApp(await prepare(make_config("a"), blocks=2))
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        await pilot.press("p")
        await until(pilot, lambda: bool(app.screen.query("#peers-table")), "the peers screen")

        await pilot.press("a")
        await pilot.press(*"not a url")
        await pilot.press("enter")
        await until(
            pilot,
            lambda: (
                "could not" in text_of(app, "#peers-msg") or "URL" in text_of(app, "#peers-msg")
            ),
            "a bad URL refused",
        )

        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        box = app.screen.query_one("#peers-url", Input)
        box.value = f"http://127.0.0.1:{dead}"
        await pilot.press("enter")
        await until(
            pilot,
            lambda: (
                text_of(app, "#peers-msg")
                == f"cannot connect to 127.0.0.1:{dead} (connection refused)"
            ),
            "an unreachable peer reported",
        )

        box.value = node_b.listen_url
        await pilot.press("enter")
        await until(
            pilot,
            lambda: any(r[0] == node_b.listen_url for r in table_cells(app, "#peers-table")),
            "node B in the peers table",
        )
        assert "connected to" in text_of(app, "#peers-msg")
        # A peer added in the dashboard is dialled again at the next start.
        await until(
            pilot,
            lambda: load_state(app.config.data_dir).get("peers") == [node_b.listen_url],
            "the peer saved in state.toml",
        )
        await until(
            pilot,
            lambda: node_b.ledger.tip is not None and node_b.ledger.tip.height == 2,
            "node B synced from node A",
        )

        await pilot.press("r")
        await until(
            pilot,
            lambda: "asked 1 peer" in text_of(app, "#peers-msg"),
            "resolve conflicts asked one peer",
        )

        await pilot.press("d")
        await until(pilot, lambda: not table_cells(app, "#peers-table"), "node B disconnected")

        box.value = node_b.listen_url
        await pilot.press("a", "enter")
        await until(pilot, lambda: len(table_cells(app, "#peers-table")) == 1, "reconnected")
        await pilot.press("b")
        await until(pilot, lambda: len(table_cells(app, "#bans-table")) == 1, "node B banned")
        assert not table_cells(app, "#peers-table")
        app.screen.query_one("#bans-table", DataTable).focus()
        await pilot.press("u")
        await until(pilot, lambda: not table_cells(app, "#bans-table"), "node B unbanned")
        assert "unbanned" in text_of(app, "#peers-msg")


async def test_log_shows_mined_blocks_before_and_after_it_opens(make_config: MakeConfig) -> None:
    app = TuichainApp(await prepare(make_config("a")))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        first = await node.mining.mine_one()  # before the log screen exists
        await until(
            pilot,
            lambda: any(type(e).__name__ == "NewTip" for _, e in app.recent_events),
            "the app to see the block",
        )
        await pilot.press("l")
        await until(pilot, lambda: bool(app.screen.query("#log-lines")), "the log screen")

        def logged() -> str:
            return "\n".join(s.text for s in app.screen.query_one("#log-lines", RichLog).lines)

        await until(pilot, lambda: "new tip 1" in logged(), "the earlier block replayed")
        assert hash_to_hex(first.hash)[:12] in logged()
        second = await node.mining.mine_one()
        await until(pilot, lambda: "new tip 2" in logged(), "the new block as it happens")
        assert hash_to_hex(second.hash)[:12] in logged()
        assert logged().count("new tip 1") == 1
        await pilot.press("c")
        await until(pilot, lambda: logged() == "", "the log cleared")
