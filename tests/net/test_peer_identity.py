"""Item 7 of issue 9: a peer's node id and listening URL count only once it proved its key."""

from __future__ import annotations

import aiohttp
import pytest

from tests.builders import wait_for
from tuichain.net import protocol as p

from .conftest import StartNode
from .test_hostile import Hostile


async def test_claiming_a_node_id_does_not_evict_the_honest_connection(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    a = await start_node("a")
    b = await start_node("b")
    # The duplicate rule keeps the connection dialed by the smaller id, so let the
    # larger dial: a claimant that dials in "as" the smaller one would win the old rule.
    big, small = (a, b) if a.node_id > b.node_id else (b, a)
    await big.net.connect(small.listen_url)
    await wait_for(lambda: bool(small.net.peer_infos()), "the honest connection")
    honest = [i.peer_id for i in big.net.peer_infos()]

    h = Hostile(session, big)
    h.claim(small.identity.public_key)
    assert h.node_id == small.node_id
    cmd, payload = await h.connect()
    assert (cmd, p.decode_reject(payload)[0]) == (p.Cmd.REJECT, "bad-proof")
    assert [i.peer_id for i in big.net.peer_infos()] == honest
    assert [i.node_id for i in big.net.peer_infos()] == [small.node_id]


async def test_claiming_a_listen_url_does_not_get_that_peer_banned(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    a = await start_node("a")
    b = await start_node("b")
    h = Hostile(session, a, listen_url=b.listen_url)
    await h.connect()
    await wait_for(
        lambda: any(i.node_id == h.node_id for i in a.net.peer_infos()), "the claimant"
    )
    for _ in range(5):
        await h.send(b"\xff")
    await wait_for(lambda: bool(a.net.ban_list()), "the claimant's ban")
    assert [ban.key for ban in a.net.ban_list()] == [f"node:{h.node_id}"]
    # b itself is neither refused when it dials a nor skipped when a dials it.
    await b.net.connect(a.listen_url)
    await wait_for(lambda: [i.node_id for i in a.net.peer_infos()] == [b.node_id], "b at a")


async def test_a_node_banned_by_its_proven_id_is_not_dialed_again(
    start_node: StartNode,
) -> None:
    from tuichain.net.manager import PeerError

    a = await start_node("a")
    b = await start_node("b")
    await a.net.connect(b.listen_url)  # proves b's id for b's URL in a's book
    a.net.ban(f"node:{b.node_id}", 60, "test")
    await wait_for(lambda: not a.net.peer_infos(), "the banned peer to go")
    with pytest.raises(PeerError, match="banned"):
        await a.net.connect(b.listen_url)
    # Inbound from b is refused too, now that b proves who it is.
    with pytest.raises(PeerError, match="banned"):
        await b.net.connect(a.listen_url)
