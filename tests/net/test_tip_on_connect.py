"""A newly connected peer that claims less work hears our tip at once.

Our version message tells the tip we had when the handshake began; a block
mined in the milliseconds before the connection is ready would otherwise reach
that peer only with the next block (seen in the lab: two minutes later).
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from tests.net.conftest import StartNode
from tests.net.test_hostile import Hostile
from tuichain.net import protocol as p


async def test_a_peer_behind_us_is_told_our_tip_when_it_connects(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    node = await start_node("n")
    found = []

    class MinesDuringHandshake(Hostile):
        async def before_verack(self, theirs: p.Version) -> None:
            assert theirs.height == 0  # the node told its tip of that moment
            found.append(await node.mining.mine_one(bytes([0x11]) * 20))

    peer = MinesDuringHandshake(session, node)  # claims height 0 and the genesis' work
    cmd, _ = await peer.connect()
    block = found[0]
    assert cmd == p.Cmd.VERACK
    announced: list[bytes] = []
    async with asyncio.timeout(10):
        while not announced:
            cmd, payload = await peer.recv()
            if cmd == p.Cmd.HEADERS:
                announced += [h.hash for h in p.decode_headers(payload)]
    assert announced == [block.hash]


async def test_a_peer_told_our_tip_in_the_handshake_is_not_told_again(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    node = await start_node("n")
    await node.mining.mine_one(bytes([0x11]) * 20)
    peer = Hostile(session, node)
    cmd, _ = await peer.connect()
    assert cmd == p.Cmd.VERACK
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            while True:
                cmd, _ = await peer.recv()
                assert cmd != p.Cmd.HEADERS  # it asks by its own getheaders if it wants
