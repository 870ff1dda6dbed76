"""flood: a peer announces txids without end; node1 rate-limits, then bans it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from ..core.rejections import Code
from ..net import protocol as p
from .base import LabError, Step, Verdict
from .client import Lab
from .common import synced
from .wire import WirePeer

SUMMARY = "an announcement flood is rate-limited, then banned; honest peers keep syncing"
MAX_MESSAGES = 2_000


async def _banned(lab: Lab, key: str) -> bool:
    return any(b["key"] == key for b in (await lab.get(1, "/api/peers"))["bans"])


async def run(lab: Lab, args: list[str]) -> AsyncIterator[Step]:
    lab.require(2, ("regtest",))
    async with lab.mining_paused():
        await synced(lab)
        peer = WirePeer(lab.session, lab.params, lab.node(1).url)
        await peer.connect()
        yield (f"a peer of the lab's own connects to node1 and announces {p.MAX_INV} "
               "random txids a message, as fast as it can")
        honest = asyncio.ensure_future(lab.mine(2, 3))
        sent = 0
        while sent < MAX_MESSAGES and not peer.closed:
            items = [(p.InvType.TX, os.urandom(32)) for _ in range(p.MAX_INV)]
            if not await peer.send(p.encode_inv(p.Cmd.INV, items)):
                break
            sent += 1
            await asyncio.sleep(0)
        height = await honest
        yield f"meanwhile node2 mines 3 blocks, up to {height}"
        await lab.wait(lambda: _banned(lab, peer.ban_key), "node1 to ban the flooder")
        await peer.close()
        limited = [r for r in await lab.rejections(1) if r["code"] == Code.RATE_LIMITED]
        yield (f"after {sent} messages node1 had rate-limited {len(limited)} of them "
               f"({Code.RATE_LIMITED}) and then banned the peer")
        again = WirePeer(lab.session, lab.params, lab.node(1).url)
        again.identity = peer.identity
        refused = ""
        try:
            await again.connect()
        except LabError:
            refused = again.rejected[0] if again.rejected else ""
        await again.close()
        yield f"the same peer dialling again is refused: {refused or 'it was let in'}"
        await synced(lab)
        yield "node1 and node2 share one tip: honest sync went on through the flood"
        held = bool(limited) and refused == Code.BANNED and await lab.same_tip(1, 2)
        yield Verdict(Code.BANNED, "the flooder was rate-limited, then banned, while "
                      "honest blocks kept arriving", held)
