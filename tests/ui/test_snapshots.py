"""Snapshots of every screen at 80x24 and 120x40, from a real node on a fixed chain.

What would vary between runs is pinned, not mocked: the chain is built with
fixed keys and block times (tests/ui/fixed_chain.py), the node listens on a
fixed port, the open transaction is signed with a fixed key, and the app's
``clock`` (which the status bar, the open transactions' ages and the log use
for "now") is frozen a little after the last block.

Update after an intended change of the UI with
``pytest tests/ui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from tuichain.app import TuichainApp
from tuichain.config import NodeConfig
from tuichain.core.errors import ValidationError
from tuichain.core.ledger import Ledger
from tuichain.core.params import COIN, REGTEST
from tuichain.core.tx import make_payment

from .conftest import until
from .fixed_chain import KEY_A, KEY_B, SPACING, build_chain, next_block, write_wallet

BLOCKS = 6
# Chosen, not asked of the OS: the port is on screen. Tests run one at a time,
# and the node sets SO_REUSEADDR, so one port serves them all.
PORT = 38451
FROZEN = REGTEST.genesis_time + BLOCKS * SPACING + 42
NODE_ID = "5eed5eed5eed5eed"
SIZES = [(80, 24), (120, 40)]


async def _build(data_dir: Path) -> None:
    await build_chain(data_dir, BLOCKS)
    ledger = await Ledger.open(data_dir, REGTEST)
    try:  # one open transaction (A pays B), kept in the mempool across the restart
        tx = make_payment(
            KEY_A, REGTEST.network_id, KEY_B.address_digest, 5 * COIN, 20_000, 2, b"snapshot"
        )
        await ledger.submit_tx(tx, "test")
    finally:
        await ledger.close()


@pytest.fixture
def chain_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "node"
    data_dir.mkdir()
    asyncio.run(_build(data_dir))
    write_wallet(data_dir, KEY_A)
    with socket.socket() as s:  # fail clearly, not with a screenshot of an error
        try:
            s.bind(("127.0.0.1", PORT))
        except OSError as exc:
            pytest.fail(f"snapshot port {PORT} is busy: {exc}")
    return data_dir


def make_app(data_dir: Path) -> TuichainApp:
    app = TuichainApp(NodeConfig(port=PORT, data_dir=data_dir, network=REGTEST))
    app.clock = lambda: float(FROZEN)
    app.node.clock = lambda: float(FROZEN)  # the times in a life and in the rejections
    app.node.node_id = NODE_ID
    return app


async def settle(pilot: Pilot[Any]) -> None:
    """Let workers finish and the screen redraw."""
    for _ in range(3):  # some screens reload on a short timer after an event
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.15)


def rows(pilot: Pilot[Any], selector: str) -> int:
    found = pilot.app.screen.query(selector)
    return found.first(DataTable).row_count if found else -1


def opener(
    key: str, ready: Callable[[Pilot[Any]], bool] | None = None
) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: getattr(pilot.app, "node_ready", False), "the node")
        await pilot.press(key)
        if ready is not None:
            await until(pilot, lambda: ready(pilot), f"screen {key!r} loaded")
        await settle(pilot)

    return run_before


SCREENS: dict[str, Callable[[Pilot[Any]], Any]] = {
    # Six coinbases, two payments out, the open payment: nine rows of history.
    "wallet": opener("w", lambda p: rows(p, "#history") == BLOCKS + 3),
    "mining": opener("m", lambda p: bool(p.app.screen.query("#found"))),
    "mempool": opener("o", lambda p: rows(p, "#mempool") == 1),
    "explorer": opener("e", lambda p: rows(p, "#explorer-blocks") == BLOCKS + 1),
    "peers": opener("p", lambda p: bool(p.app.screen.query("#peers-table"))),
    "log": opener("l", lambda p: bool(p.app.screen.query("#log-lines"))),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare: Any, chain_dir: Path, screen: str, size: tuple[int, int]) -> None:
    run_before = SCREENS[screen]
    if screen == "log":
        run_before = log_lines
    assert snap_compare(make_app(chain_dir), terminal_size=size, run_before=run_before)


async def log_lines(pilot: Pilot[Any]) -> None:
    """Start from a cleared log (start-up lines carry timings), then two real events."""
    await opener("l", lambda p: bool(p.app.screen.query("#log-lines")))(pilot)
    await pilot.press("c")
    node = pilot.app.node  # type: ignore[attr-defined]
    # Paid to B: a block paying this wallet would raise a "funds received" toast
    # whose timing (a delayed balance check) no snapshot can pin down.
    block = await next_block(node.ledger, KEY_B.address_digest)
    await node.ledger.submit_block(block, "test")
    tx = make_payment(KEY_A, REGTEST.network_id, KEY_B.address_digest, COIN, 20_000, 3)
    await node.ledger.submit_tx(tx, "test")
    await until(
        pilot, lambda: len(pilot.app.screen.query_one("#log-lines").lines) >= 2, "two log lines"
    )
    await settle(pilot)


async def _explorer_block(pilot: Pilot[Any]) -> None:
    await SCREENS["explorer"](pilot)
    await pilot.press("slash")
    pilot.app.screen.query_one("#explorer-search", Input).value = "3"
    await pilot.press("enter")
    await until(pilot, lambda: rows(pilot, "#detail-table") == 3, "block 3's transactions")
    await settle(pilot)


async def _explorer_tx(pilot: Pilot[Any]) -> None:
    await _explorer_block(pilot)
    await pilot.press("down", "down", "enter")
    await until(
        pilot,
        lambda: "verified" in str(pilot.app.screen.query_one("#detail-body").render()),
        "the proof",
    )
    await settle(pilot)


def test_explorer_block_details(snap_compare: Any, chain_dir: Path) -> None:
    assert snap_compare(make_app(chain_dir), terminal_size=(80, 24), run_before=_explorer_block)


def test_explorer_tx_details(snap_compare: Any, chain_dir: Path) -> None:
    assert snap_compare(make_app(chain_dir), terminal_size=(80, 24), run_before=_explorer_tx)


async def _tx_life(pilot: Pilot[Any]) -> None:
    """A wallet payment signed, accepted and included: its life on the detail view."""
    await until(pilot, lambda: getattr(pilot.app, "node_ready", False), "the node")
    node = pilot.app.node  # type: ignore[attr-defined]
    tx = make_payment(KEY_A, REGTEST.network_id, KEY_B.address_digest, COIN, 20_000, 3, b"life")
    await node.ledger.submit_tx(tx, "wallet")
    pending = [e.tx for e in await node.ledger.mempool_entries()]  # nonce 2, then this one
    await node.ledger.submit_block(await next_block(node.ledger, KEY_B.address_digest,
                                                    tuple(pending)))
    await pilot.press("e")
    await pilot.press("slash")
    pilot.app.screen.query_one("#explorer-search", Input).value = tx.txid_hex
    await pilot.press("enter")
    await until(
        pilot,
        lambda: "included in block" in str(pilot.app.screen.query_one("#detail-body").render()),
        "the life",
    )
    await settle(pilot)


async def _rejections(pilot: Pilot[Any]) -> None:
    """A payment with a nonce that skips ahead, as if submitted over REST."""
    await until(pilot, lambda: getattr(pilot.app, "node_ready", False), "the node")
    node = pilot.app.node  # type: ignore[attr-defined]
    bad = make_payment(KEY_A, REGTEST.network_id, KEY_B.address_digest, COIN, 20_000, 9)
    with pytest.raises(ValidationError):
        await node.ledger.submit_tx(bad, "rest")
    await pilot.press("x")
    await until(pilot, lambda: rows(pilot, "#rejections") == 1, "the refusal")
    await settle(pilot)


EXPLAIN_VIEWS: dict[str, Callable[[Pilot[Any]], Any]] = {
    "txlife": _tx_life,
    "rejections": _rejections,
    "retarget": opener("t", lambda p: "no retarget" in str(
        p.app.screen.query_one("#retarget-info").render()) if p.app.screen.query(
        "#retarget-info") else False),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(EXPLAIN_VIEWS))
def test_explain_view(snap_compare: Any, chain_dir: Path, view: str, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(chain_dir), terminal_size=size, run_before=EXPLAIN_VIEWS[view])
