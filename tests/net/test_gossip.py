"""Several real nodes in one loop: gossip, each body once, headers-first catch-up, reorgs."""

from __future__ import annotations

import asyncio

import pytest

from tests.builders import mine_on, wait_for
from tuichain.core.events import PeersChanged
from tuichain.core.params import COIN
from tuichain.net.manager import PeerError
from tuichain.node import Node

from .conftest import StartNode


async def link(a: Node, b: Node) -> None:
    await a.net.connect(b.listen_url)
    await wait_for(
        lambda: any(p.node_id == a.node_id for p in b.net.peer_infos()),
        "the inbound side to register",
    )


async def test_tx_and_block_reach_every_node_exactly_once(start_node: StartNode) -> None:
    # A diamond: D hears of everything from both B and C but must fetch each body once.
    a, b, c, d = [await start_node(n) for n in "abcd"]
    for x, y in ((b, a), (c, a), (d, b), (d, c)):
        await link(x, y)
    nodes = (a, b, c, d)
    await a.create_wallet(None)
    assert a.wallet is not None

    block = await a.mining.mine_one()  # the local miner's block is announced too
    await wait_for(lambda: all(n.ledger.tip.hash == block.hash for n in nodes), "block 1")
    tx = await a.send(b.address or a.format_address(bytes(20)), COIN, 2_000)
    await wait_for(lambda: all(n.ledger.mempool_size == 1 for n in nodes), "the tx")
    for n in (b, c, d):
        assert await n.ledger.mempool_tx(tx.txid) == tx
    block2 = await a.mining.mine_one()
    assert tx.txid in block2.txids
    await wait_for(lambda: all(n.ledger.tip.hash == block2.hash for n in nodes), "block 2")
    await wait_for(lambda: all(n.ledger.mempool_size == 0 for n in nodes), "empty mempools")

    for n in (b, c, d):
        assert n.net.stats.blocks_received == 2, n.net.stats
        assert n.net.stats.txs_received == 1, n.net.stats
        assert n.net.stats.duplicate_blocks == n.net.stats.duplicate_txs == 0
    assert a.net.stats.blocks_received == 0  # never sent back to the source
    assert a.net.stats.txs_received == 0


async def test_late_joiner_transfers_only_missing_blocks(start_node: StartNode) -> None:
    a = await start_node("a")
    for _ in range(30):
        await mine_on(a.ledger)
    b = await start_node("b", peers=[a.listen_url])
    await wait_for(lambda: b.ledger.tip.hash == a.ledger.tip.hash, "initial sync")
    await wait_for(lambda: not b.net.syncing, "sync to finish")
    assert b.net.stats.blocks_received == 30
    assert b.net.stats.headers_received == 30
    await b.stop()

    for _ in range(12):
        await mine_on(a.ledger)
    b2 = await start_node("b", peers=[a.listen_url])  # same data directory
    assert b2.ledger.tip.height == 30
    await wait_for(lambda: b2.ledger.tip.hash == a.ledger.tip.hash, "catch-up")
    assert b2.net.stats.blocks_received == 12
    assert b2.net.stats.headers_received == 12
    assert a.net.stats.blocks_sent == 30 + 12


async def test_heavier_branch_reorgs_and_returns_txs_to_mempool(start_node: StartNode) -> None:
    a, b = await start_node("a"), await start_node("b")
    await a.create_wallet(None)
    assert a.wallet is not None
    await link(a, b)
    await mine_on(a.ledger, a.wallet.address_digest)
    await wait_for(lambda: b.ledger.tip.height == 1, "shared block")
    for p in a.net.peer_infos():
        await a.net.disconnect(p.peer_id)
    await wait_for(lambda: not b.net.peer_infos(), "the partition")

    tx = await a.send(a.format_address(bytes(20)), COIN, 1_000)
    orphaned = await mine_on(a.ledger)
    assert tx.txid in orphaned.txids
    assert a.ledger.mempool_size == 0
    for _ in range(2):
        await mine_on(b.ledger)

    await link(a, b)  # heal: a learns of the heavier branch by headers
    await wait_for(lambda: a.ledger.tip.hash == b.ledger.tip.hash, "reorg to b's branch")
    info = await a.ledger.tx_info(tx.txid)
    assert info is not None
    assert info.in_mempool
    assert a.ledger.tip.height == 3


async def test_connect_errors_are_clear(start_node: StartNode, tmp_path) -> None:
    from tuichain.config import NodeConfig
    from tuichain.core.params import DEFAULT

    a, b = await start_node("a"), await start_node("b")
    with pytest.raises(PeerError, match="itself"):
        await a.net.connect(a.listen_url)
    with pytest.raises(PeerError, match="itself"):  # same node under another name
        await a.net.connect(f"http://localhost:{a.port}")
    await a.net.connect(b.listen_url)
    with pytest.raises(PeerError, match="already connected"):
        await a.net.connect(b.listen_url)
    with pytest.raises(PeerError, match="not a peer URL|http"):
        await a.net.connect("ftp://nowhere")
    other = Node(NodeConfig(port=0, data_dir=tmp_path / "main", network=DEFAULT, target_outbound=0))
    await other.start()
    try:
        with pytest.raises(PeerError, match="network"):
            await a.net.connect(other.listen_url)
        port = other.port
    finally:
        await other.stop()
    with pytest.raises(PeerError) as refused:
        await a.net.connect(f"http://127.0.0.1:{port}")
    # The user's words, not aiohttp's ("Cannot connect to host ... ssl:default").
    assert str(refused.value) == f"cannot connect to 127.0.0.1:{port} (connection refused)"
    a.net.ban(f"127.0.0.1:{port}", 60, "test")
    with pytest.raises(PeerError, match="banned"):
        await a.net.connect(f"http://127.0.0.1:{port}")


async def test_addr_gossip_fills_outbound_and_book_persists(start_node: StartNode) -> None:
    a, b = await start_node("a"), await start_node("b")
    await link(b, a)
    events: list[PeersChanged] = []
    c = await start_node("c", peers=[b.listen_url], target_outbound=2)
    c.events.subscribe(lambda e: events.append(e) if isinstance(e, PeersChanged) else None)
    # c hears a's address from b and dials it to reach its outbound target.
    await wait_for(
        lambda: {p.url for p in c.net.peer_infos()} == {a.listen_url, b.listen_url},
        "c to connect to a and b",
    )
    assert any("connected" in e.detail for e in events)
    c.net.ban("127.0.0.1:1", 3600, "kept across restarts")
    await c.stop()
    text = (c.config.data_dir / "peers.toml").read_text()
    assert a.listen_url in text
    assert "kept across restarts" in text


async def test_a_joining_nodes_address_is_relayed_beyond_its_peer(start_node: StartNode) -> None:
    # target_outbound=0: nobody dials what it learns, so only relayed addr messages
    # can bring d's address to c, two hops away.
    a = await start_node("a", target_outbound=0)
    b = await start_node("b", target_outbound=0)
    c = await start_node("c", target_outbound=0)
    await link(b, a)
    await link(c, b)
    d = await start_node("d", target_outbound=0)
    await link(d, a)
    await wait_for(lambda: d.listen_url in c.net.book.urls(), "c to learn d's address")
    assert d.listen_url in b.net.book.urls()


async def test_nodes_dialing_each_other_at_once_keep_one_connection(
    start_node: StartNode,
) -> None:
    for round_ in range(4):
        a = await start_node(f"a{round_}", target_outbound=0)
        b = await start_node(f"b{round_}", target_outbound=0)
        await asyncio.gather(
            a.net.connect(b.listen_url), b.net.connect(a.listen_url), return_exceptions=True
        )
        await asyncio.sleep(0.3)  # let a losing connection close on both sides
        await wait_for(
            lambda a=a, b=b: len(a.net.peer_infos()) == 1 and len(b.net.peer_infos()) == 1,
            "one connection each",
        )
        (pa,), (pb,) = a.net.peer_infos(), b.net.peer_infos()
        assert {pa.direction, pb.direction} == {"in", "out"}, "both ends of one connection"
        await mine_on(a.ledger)
        await wait_for(lambda a=a, b=b: b.ledger.tip.hash == a.ledger.tip.hash, "the block")


async def test_sync_now_asks_every_peer(start_node: StartNode) -> None:
    a, b, c = await start_node("a"), await start_node("b"), await start_node("c")
    await link(c, a)
    await link(c, b)
    for _ in range(3):
        await mine_on(b.ledger)
    assert await c.net.sync_now() == 2
    await wait_for(lambda: c.ledger.tip.hash == b.ledger.tip.hash, "c to follow b")
