"""A peer's requests are answered, however fast they come; a node does not flood a peer.

A sync once stalled for the 20 s block timeout, and the syncing node was then banned
for a day: its source had dialed it back, and on that connection the syncing node
announced each new tip (one headers message a batch) to the peer it was downloading
the chain from. Those announcements, past the message bucket's burst, were dropped
with a point of score each, and so was a getdata among them: its blocks never came.
A tip is news only to a peer with less work; a request dropped would leave the asker
waiting, so requests past the bucket wait their turn instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp

from tests.builders import Link, extend, genesis_link, wait_for
from tuichain.core.params import REGTEST
from tuichain.core.pow import work_from_bits
from tuichain.net import protocol as p
from tuichain.net.peer import BUCKET_CAPACITY
from tuichain.node import Node

from .conftest import StartNode, serving, slow_writer
from .test_hostile import Hostile

BLOCKS = 300


async def _received(h: Hostile, into: list[p.Cmd]) -> None:
    """Every message the raw peer is sent, until its connection ends. It claims more
    work than it has: what it is asked for it answers with nothing (no headers past
    the locator, notfound for bodies), so the sync goes on without it."""
    assert h.ws is not None
    async for msg in h.ws:
        if msg.type != aiohttp.WSMsgType.BINARY:
            continue
        cmd = p.Cmd(msg.data[0])
        into.append(cmd)
        if cmd == p.Cmd.GETHEADERS:
            await h.send(p.encode_headers([]))
        elif cmd == p.Cmd.GETDATA:
            await h.send(p.encode_inv(p.Cmd.NOTFOUND, p.decode_inv(msg.data[1:])))


async def _raw_peer_of_source(start_node: StartNode, session: aiohttp.ClientSession,
                              blocks: int) -> tuple[list[Link], Node, Hostile]:
    """A node serving `blocks` blocks, and a raw peer it has registered."""
    chain = extend(REGTEST, genesis_link(), blocks)
    source = await serving(start_node, chain)
    h = Hostile(session, source)
    await h.connect()
    await wait_for(lambda: any(i.node_id == h.node_id for i in source.net.peer_infos()),
                   "the peer to be registered")
    return chain, source, h


async def _sync_watched_by(start_node: StartNode, watcher: Hostile) -> tuple[list[p.Cmd], int]:
    """A fresh node, with `watcher` connected to it, syncs BLOCKS blocks from a source
    in many batches: what the watcher was sent, and the number of batches."""
    chain = extend(REGTEST, genesis_link(), BLOCKS)
    source = await serving(start_node, chain)
    node = watcher.node
    sizes: list[int] = []
    slow_writer(node, 0.005, sizes)  # blocks arrive while it imports: several batches
    await watcher.connect()
    got: list[p.Cmd] = []
    reader = asyncio.create_task(_received(watcher, got))
    try:
        await node.net.connect(source.listen_url)
        await wait_for(lambda: node.ledger.tip.hash == chain[-1].hash,  # type: ignore[union-attr]
                       "the whole chain", limit=60)
        await asyncio.sleep(0.3)  # an announcement of the last tip would be here by now
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    assert len(sizes) > 2, sizes  # several batches, a new tip each
    return got, len(sizes)


async def test_a_syncing_node_announces_no_tip_to_a_peer_with_more_work(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    ahead = Hostile(session, await start_node("node"))
    ahead.height = BLOCKS
    ahead.chainwork = sum(work_from_bits(link.bits) for link in [
        genesis_link(), *extend(REGTEST, genesis_link(), BLOCKS)])
    got, batches = await _sync_watched_by(start_node, ahead)
    assert p.Cmd.HEADERS not in got, (
        f"{got.count(p.Cmd.HEADERS)} tips announced to a peer claiming more work "
        f"({batches} batches)")


async def test_getdata_past_the_message_bucket_is_answered_not_dropped(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    chain, source, h = await _raw_peer_of_source(start_node, session, 3)
    asks = int(BUCKET_CAPACITY) + 300  # far more than a burst, sent at once
    for i in range(asks):
        link = chain[i % len(chain)]
        await h.send(p.encode_inv(p.Cmd.GETDATA, [(p.InvType.BLOCK, link.hash)]))
    blocks = 0
    while blocks < asks:
        cmd, _ = await h.recv()
        blocks += cmd == p.Cmd.BLOCK
    assert not h.banned()
    assert h.score() == 0


async def test_a_syncing_node_announces_one_tip_a_batch_to_a_peer_behind(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    behind = Hostile(session, await start_node("node"))  # at genesis: every tip is news
    got, batches = await _sync_watched_by(start_node, behind)
    announced = got.count(p.Cmd.HEADERS)
    # Each batch is committed at once: its last block is the tip to announce (a peer
    # that cannot place it asks for the headers before it).
    assert 1 <= announced <= batches, f"{announced} tips announced for {batches} batches"


async def test_a_window_of_blocks_is_sent_in_slices_the_loop_runs_between(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    """A node serving a sync wrote a whole window of blocks in one step of its loop (a
    send that fits the socket's buffer does not suspend): its dashboard froze for as
    long, 9-15 ms a window measured while syncing blocks of 10 payments."""
    chain, source, h = await _raw_peer_of_source(start_node, session, 200)
    peer = next(p for p in source.net.ready_peers() if p.node_id == h.node_id)
    real = peer.ws.send_bytes

    async def costly(data: bytes, *args: object, **kwargs: object) -> None:
        time.sleep(0.0005)  # framing a big block: CPU, not a wait  # noqa: ASYNC251
        await real(data, *args, **kwargs)  # type: ignore[arg-type]

    peer.ws.send_bytes = costly  # type: ignore[method-assign]
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(peer.messages_sent)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        before = peer.messages_sent
        await h.send(p.encode_inv(p.Cmd.GETDATA, [(p.InvType.BLOCK, link.hash) for link in chain]))
        blocks = 0
        while blocks < len(chain):
            cmd, _ = await h.recv()
            blocks += cmd == p.Cmd.BLOCK
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    between = {n for n in seen if before < n < before + len(chain)}
    assert len(between) >= 5, f"the loop ran between {sorted(between)} of {len(chain)} sends"
