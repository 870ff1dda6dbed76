"""A peer announcing txids far faster than any mempool fills: rate-limited, then banned.

The message bucket counts messages; one `inv` carries up to a thousand items, each a
lookup and maybe a request, so the items have a budget of their own (a policy value).
"""

from __future__ import annotations

import os

import aiohttp

from tests.builders import mine_on, wait_for
from tuichain.core.policy import Policy
from tuichain.core.rejections import Code
from tuichain.net import protocol as p

from .conftest import StartNode
from .test_hostile import Hostile


def _inv_of_random_txids() -> bytes:
    return p.encode_inv(p.Cmd.INV, [(p.InvType.TX, os.urandom(32)) for _ in range(p.MAX_INV)])


async def test_an_announcement_flood_is_rate_limited_then_banned(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    policy = Policy()
    a = await start_node("a")
    b = await start_node("b", peers=[a.listen_url])
    h = Hostile(session, a)
    await h.connect()
    await wait_for(lambda: any(i.node_id == h.node_id for i in a.net.peer_infos()),
                   "the flooder to be registered")
    # Fewer messages than the message bucket's burst: only the item budget can stop it.
    messages = 2 * policy.inv_items_burst // p.MAX_INV + 120
    for _ in range(messages):
        if h.ws is None or h.ws.closed:
            break
        await h.send(_inv_of_random_txids())
    await wait_for(h.banned, "the flooder's ban")
    # What it announced beyond the budget was never looked up or asked for.
    asked = a.net.sync.stats.inv_items_requested
    assert asked <= policy.inv_items_burst + 2 * policy.inv_items_per_second * 10
    assert asked < messages * p.MAX_INV // 2
    limited = [r for r in a.rejections.recent() if r.code == Code.RATE_LIMITED]
    assert limited
    assert all(r.kind == "message" for r in limited)
    # Honest gossip went on meanwhile.
    block = await mine_on(a.ledger)
    await wait_for(lambda: b.ledger.tip.hash == block.hash, "honest sync after the flood")


def _getdata_of_random_blocks() -> bytes:
    return p.encode_inv(p.Cmd.GETDATA,
                        [(p.InvType.BLOCK, os.urandom(32)) for _ in range(p.MAX_INV)])


async def test_asking_for_blocks_nobody_has_spends_the_same_item_budget(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    """Requests past the message bucket wait rather than being dropped, so the bucket
    alone no longer stops a peer asking for a thousand unknown blocks a message (each
    a lookup on the reader): what nobody has counts against the peer's item budget,
    as announcements do."""
    policy = Policy()
    a = await start_node("a")
    h = Hostile(session, a)
    await h.connect()
    await wait_for(lambda: any(i.node_id == h.node_id for i in a.net.peer_infos()),
                   "the asker to be registered")
    messages = 2 * policy.inv_items_burst // p.MAX_INV + 120  # fewer than the bucket's burst
    for _ in range(messages):
        if h.ws is None or h.ws.closed:
            break
        await h.send(_getdata_of_random_blocks())
    await wait_for(h.banned, "the asker's ban")
    limited = [r for r in a.rejections.recent() if r.code == Code.RATE_LIMITED]
    assert limited
