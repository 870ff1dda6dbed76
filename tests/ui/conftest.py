"""Real regtest nodes on 127.0.0.1 (port 0) with data directories under tmp_path, for UI tests."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.builders import mine_on, wait_for
from tuichain.config import NodeConfig
from tuichain.core.block import Block
from tuichain.core.params import REGTEST
from tuichain.node import Node

MakeConfig = Callable[..., NodeConfig]
MakeNode = Callable[..., Awaitable[Node]]


@pytest.fixture
def make_config(tmp_path: Path) -> MakeConfig:
    """A regtest config on port 0 in tmp_path/<name>; keyword overrides go to NodeConfig."""
    counter = iter(range(1_000_000))

    def make(name: str | None = None, **overrides: Any) -> NodeConfig:
        values: dict[str, Any] = {
            "port": 0,
            "data_dir": tmp_path / (name or f"node{next(counter)}"),
            "network": REGTEST,
            "mining_pace": 0.05,
            "target_outbound": 0,
        }
        values.update(overrides)
        return NodeConfig(**values)

    return make


@pytest.fixture
async def make_node(make_config: MakeConfig) -> AsyncIterator[MakeNode]:
    """Start real Nodes in the test's loop (optionally with a wallet); all stop at the end."""
    nodes: list[Node] = []

    async def make(name: str | None = None, *, wallet: bool = False, **overrides: Any) -> Node:
        node = Node(make_config(name, **overrides))
        await node.start()
        nodes.append(node)
        if wallet:
            await node.create_wallet(None)
        return node

    yield make
    for node in reversed(nodes):
        await node.stop()  # a no-op for a node an app already stopped


async def mine_block(node: Node, to: bytes | None = None) -> Block:
    """Mine the node's template in the test process (regtest: a handful of nonces)."""
    payout = to if to is not None else node.wallet.address_digest  # type: ignore[union-attr]
    return await mine_on(node.ledger, payout)


async def until(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, limit: float = 20.0
) -> None:
    """Let the app run until `condition` holds; fail naming `what` if it never does."""
    await wait_for(condition, what, limit, pause=pilot.pause, interval=0.05)


async def until_quit(pilot: Pilot[Any], limit: float = 30.0) -> None:
    """Let the app run until it has quit; fail with every pending task's stack if not.

    Polls with a plain sleep: pilot.pause first waits for each widget of the current
    screen to drain its queue, and while the app shuts down that screen is being torn
    down under it. A stalled quit is a bug to be diagnosed, hence the stacks.
    """
    app = pilot.app
    try:
        await wait_for(lambda: not app.is_running, "the app to quit", limit, interval=0.05)
    except AssertionError:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.print_stack(limit=12, file=stacks)
        stopping = getattr(app, "_stopping", "?")
        screens = [type(s).__name__ for s in app.screen_stack]
        raise AssertionError(
            f"the app did not quit within {limit} s (stopping={stopping}, screens={screens});"
            f" pending tasks:\n{stacks.getvalue()}"
        ) from None


async def app_started(pilot: Pilot[Any]) -> Node:
    app = pilot.app
    await until(pilot, lambda: getattr(app, "node_ready", False), "the node to start")
    node: Node = app.node  # type: ignore[attr-defined]
    return node


def static_text(pilot: Pilot[Any], selector: str) -> str:
    return str(pilot.app.screen.query_one(selector, Static).render())


def table_rows(pilot: Pilot[Any], selector: str) -> list[list[str]]:
    table = pilot.app.screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def burst(pilot: Pilot[Any], keys: str | list[str]) -> None:
    """Queue `keys` all at once, as a fast typist, a paste or a busy app delivers them:
    every key is in the app's queue before the first is handled (pilot.press waits for
    the app to go idle after each key, so it never shows what a burst does)."""
    app = pilot.app
    for key in keys:
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        char = key if len(key) == 1 else ("\r" if key == "enter" else None)
        event = events.Key(name, char)
        event.set_sender(app)
        app.post_message(event)
