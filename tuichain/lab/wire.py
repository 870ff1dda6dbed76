"""A peer the lab plays itself: it dials a node over the real wire protocol and handshake.

It proves a key of its own (a fresh identity each time, so a ban of one scenario's
peer does not spill into the next), answers pings, serves the blocks it holds when
the node asks for them (`getdata`), and otherwise sends what the scenario tells it.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from ..core.block import Block, BlockHeader
from ..core.genesis import genesis_block
from ..core.identity import NodeIdentity, node_id_of
from ..core.keys import PrivateKey
from ..core.params import NetworkParams
from ..net import protocol as p
from ..net.handshake import new_challenge, proof_message
from .base import LabError


class WirePeer:
    def __init__(self, session: aiohttp.ClientSession, params: NetworkParams, url: str) -> None:
        self.session = session
        self.params = params
        self.url = url
        self.identity = NodeIdentity.of(PrivateKey.generate())
        self.blocks: dict[bytes, Block] = {}
        self.served = 0
        self.rejected: tuple[str, str] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def node_id(self) -> str:
        return node_id_of(self.identity.public_key)

    @property
    def ban_key(self) -> str:
        return f"node:{self.node_id}"  # loopback peers are banned by proven node id

    @property
    def closed(self) -> bool:
        return self._ws is None or self._ws.closed

    async def connect(self) -> None:
        try:
            self._ws = await self.session.ws_connect(self.url + "/p2p")
        except (aiohttp.ClientError, OSError) as exc:
            raise LabError(f"cannot reach {self.url}/p2p: {exc}") from None
        challenge = new_challenge()
        version = p.Version(self.params.name, self.params.network_id,
                            genesis_block(self.params).hash, p.PROTOCOL_VERSION, self.node_id,
                            None, 0, 0, self.identity.public_key, challenge, agent="tuichain-lab")
        await self._ws.send_bytes(version.encode())
        cmd, payload = await self._recv()
        if cmd == p.Cmd.REJECT:
            self.rejected = p.decode_reject(payload)
            raise LabError(f"{self.url} refused the lab's peer: {self.rejected[1]}")
        theirs = p.Version.decode(payload)
        proof = proof_message(self.params.network_id, True, self.node_id, theirs.node_id,
                              theirs.challenge, challenge)
        await self._ws.send_bytes(p.frame(p.Cmd.VERACK, self.identity.sign(proof)))
        cmd, payload = await self._recv()
        if cmd == p.Cmd.REJECT:
            self.rejected = p.decode_reject(payload)
            raise LabError(f"{self.url} refused the lab's peer: {self.rejected[1]}")
        self._reader = asyncio.ensure_future(self._read())

    async def _recv(self) -> tuple[p.Cmd, bytes]:
        assert self._ws is not None
        msg = await self._ws.receive(timeout=15)
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise LabError(f"{self.url} closed the connection during the handshake")
        return p.Cmd(msg.data[0]), msg.data[1:]

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                continue
            cmd, payload = msg.data[0], msg.data[1:]
            if cmd == p.Cmd.PING:
                await self.send(p.encode_nonce(p.Cmd.PONG, p.decode_nonce(payload)))
            elif cmd == p.Cmd.GETDATA:
                for kind, h in p.decode_inv(payload):
                    block = self.blocks.get(h)
                    if kind == p.InvType.BLOCK and block is not None:
                        await self.send(p.frame(p.Cmd.BLOCK, block.encoded))
                        self.served += 1
            elif cmd == p.Cmd.REJECT:
                with contextlib.suppress(p.ProtocolError):
                    self.rejected = p.decode_reject(payload)

    async def send(self, data: bytes) -> bool:
        """False once the node has closed the connection."""
        if self.closed:
            return False
        assert self._ws is not None
        try:
            await self._ws.send_bytes(data)
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            return False
        return True

    async def offer(self, blocks: list[Block]) -> None:
        """Hold these blocks and announce their headers (the node asks for what it wants)."""
        for b in blocks:
            self.blocks[b.hash] = b
        headers: list[BlockHeader] = [b.header for b in blocks]
        for i in range(0, len(headers), p.MAX_HEADERS):
            await self.send(p.encode_headers(headers[i:i + p.MAX_HEADERS]))

    async def push(self, block: Block) -> None:
        """Send a block unasked."""
        await self.send(p.frame(p.Cmd.BLOCK, block.encoded))

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
