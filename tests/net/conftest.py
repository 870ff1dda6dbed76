"""Real nodes on 127.0.0.1 (port 0) with data directories under tmp_path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.builders import MINER, Link, block_on, wait_for
from tuichain.config import NodeConfig
from tuichain.core.block import Block, BlockHeader
from tuichain.core.params import REGTEST
from tuichain.core.tx import Transaction
from tuichain.node import Node

StartNode = Callable[..., Awaitable[Node]]


def build_block(
    parent: BlockHeader,
    height: int,
    txs: tuple[Transaction, ...] = (),
    *,
    to: bytes = MINER,
    memo: bytes = b"",
    time_delta: int = 1,
    reward: int | None = None,
) -> Block:
    """A solved regtest block on `parent`, paying subsidy plus fees (or `reward`)."""
    return block_on(
        REGTEST,
        parent,
        height,
        txs,
        time=parent.time + time_delta,
        miner=to,
        memo=memo,
        coinbase_amount=reward,
    )


@pytest.fixture
async def start_node(tmp_path: Path) -> AsyncIterator[StartNode]:
    nodes: list[Node] = []

    async def start(
        name: str,
        peers: list[str] | None = None,
        target_outbound: int = 0,
    ) -> Node:
        config = NodeConfig(
            port=0,
            data_dir=tmp_path / name,
            network=REGTEST,
            peers=list(peers or []),
            mining_pace=0.05,
            target_outbound=target_outbound,
        )
        node = Node(config)
        await node.start()
        nodes.append(node)
        return node

    yield start
    for node in reversed(nodes):
        await node.stop()


async def serving(start_node: StartNode, chain: list[Link], name: str = "source") -> Node:
    """A node started and given `chain` (blocks in order), to sync from."""
    source: Node = await start_node(name)
    for link in chain:
        await source.ledger.submit_block(link.block)
    return source


def slow_writer(node: Node, seconds: float, sizes: list[int] | None = None) -> None:
    """Each import batch of `node` waits `seconds` on the writer thread before its
    work (a real, slower import, as on a slow disk); `sizes` gets each batch's size."""
    real = node.ledger._import_batch

    def slow(batch: Any) -> Any:
        time.sleep(seconds)
        if sizes is not None:
            sizes.append(len(batch))
        return real(batch)

    node.ledger._import_batch = slow  # type: ignore[method-assign]


async def sync_watched(node: Node, source: Node, tip: bytes, look: Callable[[], None],
                       every: float = 0.002) -> None:
    """Connect `node` to `source` and wait until its tip is `tip`, calling `look` every
    `every` seconds meanwhile (to see what the sync holds at each moment)."""
    done = False

    async def watch() -> None:
        while not done:
            look()
            await asyncio.sleep(every)

    watcher = asyncio.create_task(watch())
    try:
        await node.net.connect(source.listen_url)
        await wait_for(lambda: node.ledger.tip is not None and node.ledger.tip.hash == tip,
                       "the whole chain", limit=60)
    finally:
        done = True
        await watcher


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for raw peers and REST calls, closed after the test."""
    async with aiohttp.ClientSession() as s:
        yield s
