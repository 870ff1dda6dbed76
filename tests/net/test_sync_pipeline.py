"""A sync keeps reading while the writer imports: blocks that arrive meanwhile are
imported together in the next batch.

The download round after a block asks the writer what is missing, behind the batch
it is importing. When the peer's read loop waited for that answer, each block in a
window's tail was read only after the batch before it was written: the writer
imported those blocks one per batch, a commit each.

The window of bodies in flight is sized in bytes: deep for small blocks, so the
writer has blocks to import across a round trip, and shallow for big ones, which a
slow honest link must deliver within the stall timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.builders import Link, extend, funded, genesis_link, key, mine_on, paid_line, wait_for
from tuichain.core.params import REGTEST
from tuichain.net import protocol as p
from tuichain.net import sync

from .conftest import StartNode, serving, slow_writer, sync_watched
from .test_hostile import Hostile

BLOCKS = 300


async def test_blocks_arriving_during_an_import_join_the_next_batch(
    start_node: StartNode,
) -> None:
    chain = extend(REGTEST, genesis_link(), BLOCKS)
    source = await serving(start_node, chain)
    node = await start_node("node")
    # Each batch takes at least 20 ms on the writer (a slow disk), far longer than
    # the peer needs to send the next blocks over loopback.
    sizes: list[int] = []
    slow_writer(node, 0.02, sizes)
    await node.net.connect(source.listen_url)
    await wait_for(lambda: node.ledger.tip.hash == chain[-1].hash,  # type: ignore[union-attr]
                   "the whole chain", limit=60)
    alone = sum(1 for n in sizes if n == 1)
    assert len(sizes) <= BLOCKS // 10, (
        f"{BLOCKS} blocks took {len(sizes)} batches, {alone} of one block: {sizes}")


async def _most_in_flight(start_node: StartNode, chain: list[Link], after: int = 0) -> int:
    """The most bodies a fresh node had in flight from one peer, seen just after it
    asked for more, while syncing `chain`; only requests made once it had received
    more than `after` blocks count."""
    source = await serving(start_node, chain)
    node = await start_node("node")
    most = 0
    before = 0

    def look() -> None:
        nonlocal most, before
        engine = node.net.sync
        now = sum(len(peer.blocks_inflight) for peer in engine.m.ready_peers())
        if now > before and engine.stats.blocks_received > after:
            most = max(most, now)
        before = now

    await sync_watched(node, source, chain[-1].hash, look, every=0.001)
    return most


async def test_small_blocks_fill_a_deep_window(start_node: StartNode,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "BLOCK_WINDOW_BYTES", 40_000)
    most = await _most_in_flight(start_node, extend(REGTEST, genesis_link(), BLOCKS))
    # Empty blocks of about 230 bytes: 40,000 bytes make some 170 of them.
    assert sync.BLOCK_WINDOW_MIN < most <= 40_000 // 200, f"{most} in flight at most"


async def test_big_blocks_keep_few_in_flight(start_node: StartNode,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "BLOCK_WINDOW_BYTES", 40_000)
    monkeypatch.setattr(sync, "BLOCK_WINDOW", 64)  # under the chain's 200 blocks: refills
    payers = [key(i) for i in (1, 2, 3)]
    prefix = funded(payers)
    line = paid_line(REGTEST, prefix[-1], 200, payers, {}, 30, to=key(9).address_digest)
    assert line[-1].block.size > 4_000
    # The funding blocks are small: the window is deep until the first big one comes.
    most = await _most_in_flight(start_node, prefix + line, after=len(prefix))
    # Blocks of some 4,500 bytes: 40,000 bytes make fewer than the least window.
    assert 0 < most <= sync.BLOCK_WINDOW_MIN, f"{most} in flight at most"


async def test_a_peer_gone_during_a_download_round_is_not_waited_for(
    start_node: StartNode,
) -> None:
    chain = extend(REGTEST, genesis_link(), BLOCKS)
    source = await serving(start_node, chain)
    node = await start_node("node")
    engine = node.net.sync
    # The connection ends while a download round waits for the writer's answer (a
    # duplicate connection to the same node closed, a peer leaving), as a real race
    # does: the round goes on with the peers it listed before.
    real = node.ledger.missing_blocks
    gone: list[str] = []

    async def racing(*args: Any, **kwargs: Any) -> list[bytes]:
        wanted = await real(*args, **kwargs)
        peers = engine.m.ready_peers()
        if wanted and peers and not gone:
            gone.append(peers[0].peer_id)
            engine.m.drop(peers[0], "leaving mid-round")
            await wait_for(lambda: not engine.m.ready_peers(), "the peer gone")
        return wanted

    node.ledger.missing_blocks = racing  # type: ignore[method-assign]
    await node.net.connect(source.listen_url)
    await wait_for(lambda: gone and not engine.m.ready_peers(), "the peer gone")
    await asyncio.sleep(0.1)  # the round finishes
    stale = [h for h, req in engine.block_inflight.items() if req.peer_id == gone[0]]
    assert not stale, f"{len(stale)} bodies asked of a peer that is gone"
    # Back again, the sync goes on at once, not after the stall timeout (20 s).
    await node.net.connect(source.listen_url)
    await wait_for(lambda: node.ledger.tip.hash == chain[-1].hash,  # type: ignore[union-attr]
                   "the whole chain", limit=10)


async def test_blocks_nobody_asked_for_do_not_deepen_the_window(
    start_node: StartNode, session: aiohttp.ClientSession,
) -> None:
    node = await start_node("node")
    block = await mine_on(node.ledger)
    hostile = Hostile(session, node)
    assert (await hostile.connect())[0] == p.Cmd.VERACK
    # Small blocks pushed unasked (here the tip again, harmless): were they counted, a
    # peer could make the node ask for many big blocks at once.
    for _ in range(40):
        await hostile.send(p.frame(p.Cmd.BLOCK, block.encoded))
    engine = node.net.sync
    await wait_for(lambda: engine.stats.duplicate_blocks == 40, "the 40 blocks handled")
    assert engine.window == sync.BLOCK_WINDOW_MIN
