"""Real nodes on 127.0.0.1 (port 0) with data directories under tmp_path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tuichain.config import NodeConfig
from tuichain.core.block import Block, BlockHeader
from tuichain.core.ledger import Ledger
from tuichain.core.merkle import merkle_root
from tuichain.core.params import REGTEST
from tuichain.core.pow import hash_meets_target, target_from_bits
from tuichain.core.tx import Transaction, make_coinbase
from tuichain.node import Node

MINER = bytes([0xAB]) * 20

StartNode = Callable[..., Awaitable[Node]]


async def wait_for(cond: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    """Poll until `cond()` holds; fail with `what` after a generous timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def solve(header: BlockHeader) -> BlockHeader:
    target = target_from_bits(header.bits)
    nonce = 0
    while not hash_meets_target(header.with_nonce(nonce).hash, target):
        nonce += 1
    return header.with_nonce(nonce)


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
    amount = REGTEST.subsidy(height) + sum(t.fee for t in txs) if reward is None else reward
    coinbase = make_coinbase(REGTEST.network_id, to, amount, height, memo)
    all_txs = (coinbase, *txs)
    header = BlockHeader(
        1,
        parent.hash,
        merkle_root([t.txid for t in all_txs]),
        parent.time + time_delta,
        parent.bits,
        0,
    )
    return Block(solve(header), all_txs)


async def mine_on(ledger: Ledger, to: bytes = MINER, memo: bytes = b"") -> Block:
    """Mine the node's own template (with its mempool) and submit it."""
    tpl = await ledger.block_template(to, memo)
    block = Block(solve(tpl.header), tpl.txs)
    result = await ledger.submit_block(block, source="test")
    assert result.status == "connected", result
    return block


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
