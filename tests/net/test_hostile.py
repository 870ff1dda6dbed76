"""A hostile peer speaking the protocol by hand: it is banned, honest peers are unaffected."""

from __future__ import annotations

import dataclasses

import aiohttp

from tests.builders import grind, grind_fail, mine_on, wait_for
from tuichain.core.block import Block, BlockHeader
from tuichain.core.events import BlockRejected
from tuichain.core.genesis import genesis_block
from tuichain.core.identity import NodeIdentity, node_id_of
from tuichain.core.keys import PrivateKey
from tuichain.core.params import COIN, REGTEST
from tuichain.core.tx import make_coinbase, make_payment
from tuichain.net import protocol as p
from tuichain.net.handshake import new_challenge, proof_message
from tuichain.node import Node

from .conftest import StartNode, build_block

KEY = PrivateKey(bytes(range(32)))


class Hostile:
    """A raw websocket client that completes the handshake and then misbehaves.

    It has a key of its own; `claim` makes it present someone else's public key
    (and so their node id), which it cannot sign for.
    """

    def __init__(
        self, session: aiohttp.ClientSession, node: Node, listen_url: str | None = None
    ) -> None:
        self.session = session
        self.node = node
        self.url = node.listen_url
        self.listen_url = listen_url
        self.identity = NodeIdentity.of(PrivateKey.generate())
        self.claimed: bytes | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        # The tip its version message claims (an honest peer ahead of the node claims
        # its own).
        self.height = 0
        self.chainwork = 0

    @property
    def node_id(self) -> str:
        return node_id_of(self.claimed or self.identity.public_key)

    def claim(self, public_key: bytes) -> None:
        self.claimed = public_key

    async def connect(self, network_id: int = REGTEST.network_id) -> tuple[p.Cmd, bytes]:
        """(VERACK, signature) when the node took us, else (REJECT, payload)."""
        self.ws = await self.session.ws_connect(self.url + "/p2p")
        challenge = new_challenge()
        version = p.Version(
            "regtest",
            network_id,
            genesis_block(REGTEST).hash,
            p.PROTOCOL_VERSION,
            self.node_id,
            self.listen_url,
            self.height,
            self.chainwork,
            self.claimed or self.identity.public_key,
            challenge,
        )
        await self.ws.send_bytes(version.encode())
        cmd, payload = await self.recv()
        if cmd != p.Cmd.VERSION:
            return cmd, payload
        theirs = p.Version.decode(payload)
        await self.before_verack(theirs)
        proof = proof_message(
            network_id, True, self.node_id, theirs.node_id, theirs.challenge, challenge
        )
        await self.ws.send_bytes(p.frame(p.Cmd.VERACK, self.identity.sign(proof)))
        return await self.recv()

    async def before_verack(self, theirs: p.Version) -> None:
        """A seam for races: runs after the node's version arrived, before our proof."""

    async def recv(self) -> tuple[p.Cmd, bytes]:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.BINARY, msg
        return p.Cmd(msg.data[0]), msg.data[1:]

    async def send(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send_bytes(data)

    @property
    def key(self) -> str:
        return f"node:{self.node_id}"

    def banned(self) -> bool:
        return any(b.key == self.key for b in self.node.net.ban_list())

    def score(self) -> int:
        return sum(i.score for i in self.node.net.peer_infos() if i.node_id == self.node_id)


async def banned_after(h: Hostile, *frames: bytes) -> Hostile:
    await h.connect()
    await wait_for(
        lambda: any(i.node_id == h.node_id for i in h.node.net.peer_infos()),
        "the hostile peer to be registered",
    )
    for f in frames:
        await h.send(f)
    await wait_for(h.banned, f"{h.key} to be banned")
    await wait_for(
        lambda: not any(i.node_id == h.node_id for i in h.node.net.peer_infos()), "the disconnect"
    )
    return h


async def test_malformed_frames_get_banned(start_node: StartNode, session) -> None:
    node = await start_node("n")
    bad = [
        b"\xff",
        b"",
        p.frame(p.Cmd.INV, b"\x05\x00"),
        p.frame(p.Cmd.HEADERS, b"\x01"),
        p.frame(p.Cmd.VERSION, b"{}"),
    ]
    h = await banned_after(Hostile(session, node), *bad)
    # Refused at the handshake from now on, with the reason.
    again = Hostile(session, node)
    again.identity = h.identity
    cmd, payload = await again.connect()
    assert cmd == p.Cmd.REJECT
    assert p.decode_reject(payload)[0] == "banned"


async def test_oversized_messages_get_banned(start_node: StartNode, session) -> None:
    node = await start_node("n")
    await banned_after(
        Hostile(session, node), p.frame(p.Cmd.PING, bytes(9)), p.frame(p.Cmd.TX, bytes(10_000))
    )
    # Beyond the websocket cap: one is enough.
    await banned_after(Hostile(session, node), p.frame(p.Cmd.BLOCK, bytes(2_000_000)))
    assert node.ledger.tip.height == 0


async def test_wrong_network_is_refused_with_reason(start_node: StartNode, session) -> None:
    node = await start_node("n")
    cmd, payload = await Hostile(session, node).connect(network_id=0x1234)
    assert cmd == p.Cmd.REJECT
    code, reason = p.decode_reject(payload)
    assert code == "wrong-network"
    assert "regtest" in reason
    assert node.net.peer_infos() == []


def _unsolved(block: Block) -> Block:
    return Block(grind_fail(block.header), block.txs)


def _resolve(header: BlockHeader, txs: tuple) -> Block:
    return Block(grind(header), txs)


async def test_each_kind_of_invalid_block_gets_banned(start_node: StartNode, session) -> None:
    node = await start_node("n")
    tip = genesis_block(REGTEST).header
    good = build_block(tip, 1)
    cb = good.txs[0]
    other_cb = make_coinbase(REGTEST.network_id, bytes(20), 1, 1)
    bad_blocks = {
        "bad-pow": _unsolved(good),
        "bad-merkle": _resolve(good.header, (cb, other_cb)),
        "too much reward": build_block(tip, 1, reward=REGTEST.subsidy(1) + 1),
        "no coinbase": _resolve(
            dataclasses.replace(
                good.header,
                merkle_root=make_payment(KEY, REGTEST.network_id, bytes(20), 1, 1, 0).txid,
            ),
            (make_payment(KEY, REGTEST.network_id, bytes(20), 1, 1, 0),),
        ),
        "duplicate tx": _resolve(good.header, (cb, cb)),
        "wrong height": _wrong_height(tip),
        "bad bits": _resolve(dataclasses.replace(good.header, bits=0x207FFFFE), good.txs),
    }
    rejected: list[str] = []
    node.events.subscribe(
        lambda e: rejected.append(e.code) if isinstance(e, BlockRejected) else None
    )
    for name, block in bad_blocks.items():
        h = Hostile(session, node)
        await banned_after(h, p.frame(p.Cmd.BLOCK, block.encoded))
        assert node.ledger.tip.height == 0, name
    assert len(node.net.ban_list()) == len(bad_blocks)
    assert rejected == [
        "bad-pow",
        "bad-merkle",
        "bad-coinbase-amount",
        "no-coinbase",
        "duplicate-txid",
        "bad-coinbase-height",
        "bad-bits",
    ]
    # A valid block from an honest source still connects.
    await node.ledger.submit_block(good, "test")
    assert node.ledger.tip.hash == good.hash


def _wrong_height(tip: BlockHeader) -> Block:
    from tuichain.core.merkle import merkle_root

    cb = make_coinbase(REGTEST.network_id, bytes(20), REGTEST.subsidy(1), 7)
    header = BlockHeader(1, tip.hash, merkle_root([cb.txid]), tip.time + 1, tip.bits, 0)
    return _resolve(header, (cb,))


async def test_invalid_transactions_cost_score_then_a_ban(start_node: StartNode, session) -> None:
    node = await start_node("n")
    from tuichain.core.keys import address_digest

    await mine_on(node.ledger, address_digest(KEY.public_key))  # fund KEY
    good = make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 0)
    bad_sig = dataclasses.replace(good, amount=2 * COIN)
    wrong_net = make_payment(KEY, 0x1234, bytes(20), COIN, 1_000, 0)
    zero = make_payment(KEY, REGTEST.network_id, bytes(20), 0, 1_000, 0)
    coinbase = make_coinbase(REGTEST.network_id, bytes(20), COIN, 5)
    for first, second in ((bad_sig, wrong_net), (zero, coinbase)):
        h = Hostile(session, node)
        await h.connect()
        await h.send(p.frame(p.Cmd.TX, first.encoded))
        await wait_for(lambda h=h: h.score() == 50, "a score of 50")
        assert not h.banned()
        await h.send(p.frame(p.Cmd.TX, second.encoded))
        await wait_for(h.banned, "the ban")
    assert node.ledger.mempool_size == 0
    # Harmless rejections (a race on the nonce) cost nothing.
    h = Hostile(session, node)
    await h.connect()
    await h.send(p.frame(p.Cmd.TX, good.encoded))
    await wait_for(lambda: node.ledger.mempool_size == 1, "the good tx")
    await h.send(
        p.frame(p.Cmd.TX, make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 5).encoded)
    )
    await h.send(p.encode_nonce(p.Cmd.PING, 1))
    assert (await h.recv())[0] in (p.Cmd.PING, p.Cmd.ADDR, p.Cmd.PONG, p.Cmd.INV)
    await wait_for(lambda: node.net.stats.txs_received == 6, "all txs processed")
    assert h.score() == 0


async def test_flood_is_banned_while_honest_peers_are_served(
    start_node: StartNode, session
) -> None:
    a = await start_node("a")
    for _ in range(20):
        await mine_on(a.ledger)
    h = Hostile(session, a)
    await h.connect()
    b = await start_node("b", peers=[a.listen_url])
    for i in range(1500):
        await h.send(p.encode_nonce(p.Cmd.PING, i))
    await wait_for(h.banned, "the flooder's ban")
    await wait_for(lambda: b.ledger.tip.hash == a.ledger.tip.hash, "honest sync")
    assert [i.node_id for i in a.net.peer_infos()] == [b.node_id]
    block = await mine_on(a.ledger)
    await wait_for(lambda: b.ledger.tip.hash == block.hash, "gossip after the flood")
    assert a.ledger.tip.height == 21
