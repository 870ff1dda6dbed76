"""A sync never lets the blocks waiting for import outgrow their bounds, in blocks and
in bytes.

Blocks downloaded faster than the writer imports them wait in the ledger's queue;
fetching pauses when it is full. The bound must hold on every path that fetches:
a block arriving, a batch imported, and the stall tick (which used to ask a whole
window per tick while the queue was full and nothing was in flight).
"""

from __future__ import annotations

import pytest

from tests.builders import extend, funded, genesis_link, key, paid_line
from tuichain.core.params import REGTEST
from tuichain.net import sync

from .conftest import StartNode, serving, slow_writer, sync_watched

BOUND = 12  # under the least window (16), so any window would overshoot it at once


async def test_queued_and_requested_blocks_stay_within_the_bound(
    start_node: StartNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync, "MAX_QUEUED_BLOCKS", BOUND)
    chain = extend(REGTEST, genesis_link(), 150)
    source = await serving(start_node, chain)
    node = await start_node("node")
    slow_writer(node, 0.03)  # the writer imports slower than the peer serves
    seen = 0
    turns = 0

    def look() -> None:
        nonlocal seen, turns
        engine = node.net.sync
        seen = max(seen, node.ledger.blocks_queued + len(engine.block_inflight))
        turns += 1
        if turns % 10 == 0:
            engine.tick()  # the periodic tick, far more often than the node's own

    await sync_watched(node, source, chain[-1].hash, look)
    assert 0 < seen <= BOUND, f"{seen} blocks queued or requested at once (bound {BOUND})"


async def test_queued_bytes_stay_within_their_bound(
    start_node: StartNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of some 4,500 bytes: about 13 of them fill 60,000 bytes, far under the
    # bound in blocks. A chain of big blocks must not queue 1,024 of them.
    monkeypatch.setattr(sync, "MAX_QUEUED_BYTES", 60_000)
    payers = [key(i) for i in (1, 2, 3)]
    prefix = funded(payers)
    chain = prefix + paid_line(REGTEST, prefix[-1], 120, payers, {}, 30,
                               to=key(9).address_digest)
    source = await serving(start_node, chain)
    node = await start_node("node")
    slow_writer(node, 0.03)
    most = 0

    def look() -> None:
        nonlocal most
        most = max(most, node.ledger.blocks_queued_bytes)

    await sync_watched(node, source, chain[-1].hash, look)
    # Bodies in flight are counted at the size of the blocks seen so far, which the
    # next ones may exceed a little: one block's worth of slack.
    assert 0 < most <= 60_000 + 5_000, f"{most:,} bytes queued at once (bound 60,000)"
