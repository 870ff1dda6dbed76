"""A peer the user drops stays dropped: the upkeep does not redial it a moment later."""

from __future__ import annotations

import asyncio

from tests.builders import wait_for
from tests.net.conftest import StartNode
from tuichain.net.manager import TICK


async def test_a_dropped_pinned_peer_is_not_redialed_until_added_again(
    start_node: StartNode,
) -> None:
    b = await start_node("b")
    a = await start_node("a", peers=[b.listen_url])  # pinned: the upkeep keeps it connected
    await wait_for(lambda: len(a.net.ready_peers()) == 1, "a connected to its pinned peer")
    (peer,) = a.net.ready_peers()
    await a.net.disconnect(peer.peer_id)
    # The upkeep dials every 2 s: three rounds of it, and still no connection.
    for _ in range(int(6.5 / TICK)):
        await asyncio.sleep(TICK)
        assert not a.net.ready_peers(), "the dropped peer was redialed"
    await a.net.connect(b.listen_url)  # the user adds it again
    await wait_for(lambda: len(a.net.ready_peers()) == 1, "reconnected when asked")
