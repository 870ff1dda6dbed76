"""Real nodes on 127.0.0.1 (port 0) with data directories under tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from tests.builders import MINER, block_on
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


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for raw peers and REST calls, closed after the test."""
    async with aiohttp.ClientSession() as s:
        yield s
