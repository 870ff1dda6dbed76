"""Sync corner cases driven by a hand-spoken peer: notfound answers, racing announcements."""

from __future__ import annotations

import pytest

from tests.builders import wait_for
from tuichain.core.block import Block
from tuichain.core.genesis import genesis_block
from tuichain.core.identity import node_id_of
from tuichain.core.keys import PrivateKey
from tuichain.core.params import REGTEST
from tuichain.net import protocol as p

from .conftest import StartNode, build_block
from .test_hostile import Hostile


def _chain(n: int) -> list[Block]:
    blocks: list[Block] = []
    parent = genesis_block(REGTEST).header
    for height in range(1, n + 1):
        block = build_block(parent, height)
        blocks.append(block)
        parent = block.header
    return blocks


async def _until_pong(h: Hostile, nonce: int) -> list[tuple[p.Cmd, bytes]]:
    """Everything the node sends before it answers our ping: it reads in order."""
    await h.send(p.encode_nonce(p.Cmd.PING, nonce))
    seen: list[tuple[p.Cmd, bytes]] = []
    while True:
        cmd, payload = await h.recv()
        if cmd == p.Cmd.PONG and p.decode_nonce(payload) == nonce:
            return seen
        seen.append((cmd, payload))


def _asked(messages: list[tuple[p.Cmd, bytes]]) -> set[bytes]:
    return {
        h for cmd, payload in messages if cmd == p.Cmd.GETDATA for _, h in p.decode_inv(payload)
    }


async def test_notfound_is_not_answered_by_asking_the_same_peer_again(
    start_node: StartNode, session
) -> None:
    node = await start_node("n")
    blocks = _chain(2)
    h = Hostile(session, node)
    await h.connect()
    await wait_for(lambda: bool(node.net.peer_infos()), "the peer to register")
    await h.send(p.encode_headers([b.header for b in blocks]))
    asked = _asked(await _until_pong(h, 1))
    assert asked == {b.hash for b in blocks}
    items = [(p.InvType.BLOCK, b.hash) for b in blocks]
    await h.send(p.encode_inv(p.Cmd.NOTFOUND, items))
    # Before the fix the node asked again at once, forever: a getdata/notfound livelock.
    assert _asked(await _until_pong(h, 2)) == set()
    assert _asked(await _until_pong(h, 3)) == set()
    # A peer that has the blocks still gets asked, and the node catches up.
    other = await start_node("other")
    for b in blocks:
        await other.ledger.submit_block(b, "test")
    await node.net.connect(other.listen_url)
    await wait_for(lambda: node.ledger.tip.hash == blocks[-1].hash, "sync from the other peer")
    assert h.score() == 0


async def test_tip_announced_while_headers_are_requested_costs_nothing(
    start_node: StartNode, session
) -> None:
    node = await start_node("n")
    blocks = _chain(3)
    h = Hostile(session, node)
    await h.connect()
    await wait_for(lambda: bool(node.net.peer_infos()), "the peer to register")
    # An unknown block makes the node ask for headers...
    await h.send(p.encode_inv(p.Cmd.INV, [(p.InvType.BLOCK, blocks[0].hash)]))
    sent = await _until_pong(h, 1)
    assert [cmd for cmd, _ in sent].count(p.Cmd.GETHEADERS) == 1
    # ...and before our answer goes out we mine on and announce the new tip, as an
    # honest node does: it cannot connect yet, which is no fault of ours.
    await h.send(p.encode_headers([blocks[2].header]))
    await _until_pong(h, 2)
    assert h.score() == 0
    await h.send(p.encode_headers([b.header for b in blocks]))
    await _until_pong(h, 3)
    assert h.score() == 0
    assert await node.ledger.header_known(blocks[2].hash)


async def test_a_stream_of_unconnectable_headers_is_still_punished(
    start_node: StartNode, session
) -> None:
    node = await start_node("n")
    h = Hostile(session, node)
    await h.connect()
    await wait_for(lambda: bool(node.net.peer_infos()), "the peer to register")
    parent = build_block(genesis_block(REGTEST).header, 1).header
    for i in range(40):
        await h.send(p.encode_headers([build_block(parent, 2, memo=bytes([i])).header]))
    await wait_for(h.banned, "the ban")


async def test_repeated_announcements_of_a_pending_tx_are_remembered_once(
    start_node: StartNode, session
) -> None:
    node = await start_node("n")
    txid = bytes(range(32))
    first, second = Hostile(session, node), Hostile(session, node)
    for h in (first, second):
        await h.connect()
    await wait_for(lambda: len(node.net.peer_infos()) == 2, "both peers")
    await first.send(p.encode_inv(p.Cmd.INV, [(p.InvType.TX, txid)]))
    assert txid in _asked(await _until_pong(first, 1))
    for _ in range(50):
        await second.send(p.encode_inv(p.Cmd.INV, [(p.InvType.TX, txid)]))
    await _until_pong(second, 2)
    # One fallback source, not fifty copies of it to retry one by one.
    assert len(node.net.sync.tx_announcers[txid]) == 1


async def test_a_block_known_to_be_invalid_is_never_served(start_node: StartNode, session) -> None:
    # Served, it would get this node banned by every honest peer that asks for it.
    node = await start_node("n")
    bad = build_block(genesis_block(REGTEST).header, 1, reward=REGTEST.subsidy(1) + 1)
    result = await node.ledger.submit_block(bad, "test")
    assert result.status == "invalid"
    h = Hostile(session, node)
    await h.connect()
    await wait_for(lambda: bool(node.net.peer_infos()), "the peer to register")
    await h.send(p.encode_inv(p.Cmd.GETDATA, [(p.InvType.BLOCK, bad.hash)]))
    sent = await _until_pong(h, 1)
    assert p.Cmd.BLOCK not in [cmd for cmd, _ in sent]
    notfound = [p.decode_inv(x) for cmd, x in sent if cmd == p.Cmd.NOTFOUND]
    assert notfound == [[(p.InvType.BLOCK, bad.hash)]]


async def test_a_garbled_reject_during_the_handshake_is_a_clear_peer_error(
    start_node: StartNode,
) -> None:
    from aiohttp import web

    from tuichain.net.manager import PeerError

    async def p2p(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # the dialer's version
        public = PrivateKey.generate().public_key
        version = p.Version(
            "regtest",
            REGTEST.network_id,
            genesis_block(REGTEST).hash,
            p.PROTOCOL_VERSION,
            node_id_of(public),
            None,
            0,
            0,
            public,
            bytes(32),
        )
        await ws.send_bytes(version.encode())
        await ws.receive()  # the dialer's verack
        await ws.send_bytes(p.frame(p.Cmd.REJECT, b"\xffnot json"))  # instead of verack
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/p2p", p2p)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        node = await start_node("n")
        with pytest.raises(PeerError, match="refused"):
            await node.net.connect(f"http://127.0.0.1:{port}")
        assert node.net.peer_infos() == []
    finally:
        await runner.cleanup()


async def test_addr_with_unencodable_urls_does_not_stop_upkeep(
    start_node: StartNode, session
) -> None:
    # "\udcff" is valid JSON but no UTF-8 can encode it: saving the book raised and
    # ended the upkeep task (no more timeouts, pings, dialing or saves).
    node = await start_node("n")
    h = Hostile(session, node)
    await h.connect()
    await wait_for(lambda: bool(node.net.peer_infos()), "the peer to register")
    payload = b'["http://\\udcff.example:5000", "http://a\\u0000b:7", "http://127.0.0.1:9"]'
    await h.send(p.frame(p.Cmd.ADDR, payload))
    await _until_pong(h, 1)
    path = node.net.book.path
    await wait_for(lambda: path.exists() and "127.0.0.1:9" in path.read_text(), "the book saved")
    assert not any("example" in u or "\x00" in u for u in node.net.book.urls())


async def test_a_failed_book_save_is_retried_not_fatal(
    start_node: StartNode, session, caplog: pytest.LogCaptureFixture
) -> None:
    node = await start_node("n")
    path = node.net.book.path
    blocker = path
    blocker.mkdir(parents=True)  # a directory: the save's rename onto it fails
    h = Hostile(session, node)
    await h.connect()
    await wait_for(lambda: bool(node.net.peer_infos()), "the peer to register")
    await h.send(p.frame(p.Cmd.ADDR, b'["http://127.0.0.1:9"]'))
    await _until_pong(h, 1)
    await wait_for(lambda: "cannot save" in caplog.text, "the failed save", 10)
    blocker.rmdir()
    await wait_for(lambda: path.exists() and "127.0.0.1:9" in path.read_text(), "the retry")


async def test_undialable_host_names_are_refused_up_front(start_node: StartNode) -> None:
    # aiohttp raises UnicodeError for an empty label: it escaped connect() and left the
    # URL in the dialing set for good, holding an outbound slot forever.
    from tuichain.net.manager import PeerError

    node = await start_node("n", target_outbound=1)
    for url in ("http://a..b:5000", "http://..:5000", "http://.a:5000"):
        with pytest.raises(PeerError):
            await node.net.connect(url)
        assert not node.net.book.add(url, "test")
    other = await start_node("other")
    assert node.net.book.add(other.listen_url, "test")
    await wait_for(lambda: len(node.net.peer_infos()) == 1, "the outbound slot to be used")


async def test_one_getheaders_in_flight_a_peer_whoever_asks(start_node: StartNode,
                                                             session) -> None:
    # A full batch's follow-up and a request of the block path (an orphan's) raced:
    # each answer of 2,000 asked for the next, so every race added a walk over the
    # headers (a 100,000-block sync received 1.9 million headers in its first 40 s).
    node = await start_node("a")
    h = Hostile(session, node)
    await h.connect()
    await wait_for(lambda: any(q.node_id == h.node_id for q in node.net.ready_peers()),
                   "the hand-spoken peer to be ready")
    peer = next(q for q in node.net.ready_peers() if q.node_id == h.node_id)
    await node.net.sync.request_headers(peer)
    await node.net.sync.request_headers(peer, after=genesis_block(REGTEST).hash)
    asked = [c for c, _ in await _until_pong(h, 1) if c == p.Cmd.GETHEADERS]
    assert len(asked) == 1
    # Its answer in, the request held back goes out.
    await h.send(p.encode_headers([]))
    asked = [c for c, _ in await _until_pong(h, 2) if c == p.Cmd.GETHEADERS]
    assert len(asked) == 1
