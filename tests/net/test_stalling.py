"""A peer announces a heavier chain and withholds its bodies: the node still catches up
with its honest peer, drops the staller, and stops syncing."""

from __future__ import annotations

import aiohttp
import pytest

from tests.builders import Link, extend, genesis_link, grind, make_block, mine_on, wait_for
from tuichain.core.block import BlockHeader
from tuichain.core.params import REGTEST
from tuichain.net import protocol as p

from .conftest import StartNode
from .test_hostile import Hostile


def _low_hash_siblings(parent_link: Link, count: int) -> list[BlockHeader]:
    template = make_block(REGTEST, parent_link, memo=b"sibling", mine=False).header
    out: list[BlockHeader] = []
    nonce = 0
    while len(out) < count:
        header = grind(template, nonce)
        nonce = header.nonce + 1
        if header.hash[0] == 0:  # sorts first among equal-work headers in the index
            out.append(header)
    return out


@pytest.mark.slow
async def test_withheld_heavier_chain_and_cheap_siblings_do_not_starve_sync(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    honest = await start_node("honest")
    for _ in range(35):
        await mine_on(honest.ledger)
    node = await start_node("node")
    node.net.sync.stall_timeout = 3.0  # the policy's 20 s, shortened for the test
    # The hostile peer: 40 headers on our genesis tip (more work than the honest
    # chain), bodies withheld, plus 16 header-only siblings on its second height.
    withheld = extend(REGTEST, genesis_link(), 40, tag=b"withheld")
    siblings = _low_hash_siblings(withheld[0], 16)
    hostile = Hostile(session, node)
    await hostile.connect()
    await hostile.send(p.encode_headers([withheld[0].header, *siblings]))
    await hostile.send(p.encode_headers([w.header for w in withheld]))
    await wait_for(lambda: node.net.sync.best_header_work > 0, "the withheld headers")
    # The honest peer joins; its chain must arrive although the hostile one is heavier.
    await node.net.connect(honest.listen_url)
    await wait_for(lambda: node.ledger.tip.hash == honest.ledger.tip.hash,
                   "catching up with the honest tip", limit=90)
    await wait_for(lambda: not any(i.node_id == hostile.node_id
                                   for i in node.net.peer_infos()),
                   "the staller to be dropped", limit=60)
    await wait_for(lambda: not node.net.syncing, "syncing to end", limit=30)
    assert node.ledger.tip.height == 35
