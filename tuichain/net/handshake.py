"""The version/verack handshake: both sides present themselves; a mismatch is refused with
a `reject` carrying the reason, then the socket is closed. The dialing side speaks first,
so an inbound peer is checked (network, genesis, ban) before learning anything about us.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from aiohttp import WSMsgType

from ..core.params import NetworkParams
from ..core.rejections import Code
from .addrbook import normalize_url
from .peer import Peer
from .protocol import Cmd, ProtocolError, Version, decode_reject, encode_reject, frame, split

HANDSHAKE_TIMEOUT = 10.0


class Refused(Exception):
    """A handshake that failed; `code` is machine-readable, `reason` for people."""

    def __init__(self, code: Code | str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def _recv(peer: Peer, params: NetworkParams) -> tuple[Cmd, bytes]:
    msg = await peer.ws.receive(timeout=HANDSHAKE_TIMEOUT)
    if msg.type != WSMsgType.BINARY:
        raise Refused(Code.CLOSED, "the connection closed during the handshake")
    peer.count_received(len(msg.data))
    try:
        cmd, payload = split(msg.data, params)
    except ProtocolError as exc:
        raise Refused(Code.MALFORMED, exc.reason) from None
    if cmd == Cmd.REJECT:
        try:
            code, reason = decode_reject(payload)
        except ProtocolError as exc:
            # Escaping as ProtocolError would skip the close below and leak the socket.
            raise Refused(Code.MALFORMED, exc.reason) from None
        raise Refused(code, reason)
    return cmd, payload


async def _expect(peer: Peer, params: NetworkParams, want: Cmd) -> bytes:
    cmd, payload = await _recv(peer, params)
    if cmd != want:
        raise Refused(Code.MALFORMED, f"expected {want.name.lower()}, got {cmd.name.lower()}")
    return payload


async def run_handshake(
    peer: Peer, params: NetworkParams, ours: Version, check: Callable[[Peer, Version], None]
) -> None:
    """version/verack both ways; `check` raises Refused for a peer we will not talk to."""
    try:
        if peer.direction == "out":
            await peer.ws.send_bytes(ours.encode())
        try:
            theirs = Version.decode(await _expect(peer, params, Cmd.VERSION))
        except ProtocolError as exc:
            raise Refused(Code.MALFORMED, exc.reason) from None
        peer.version, peer.node_id = theirs, theirs.node_id
        peer.height, peer.chainwork = theirs.height, theirs.chainwork
        if theirs.listen_url and peer.direction == "in":
            with contextlib.suppress(ValueError):
                peer.url = normalize_url(theirs.listen_url)
        check(peer, theirs)
        if peer.direction == "in":
            await peer.ws.send_bytes(ours.encode())
        await peer.ws.send_bytes(frame(Cmd.VERACK))
        await _expect(peer, params, Cmd.VERACK)
    except Refused as exc:
        if exc.code != "closed" and not peer.ws.closed:
            with contextlib.suppress(Exception):
                await peer.ws.send_bytes(encode_reject(exc.code, exc.reason))
        with contextlib.suppress(Exception):
            await peer.ws.close()
        raise
    except (TimeoutError, ConnectionError, RuntimeError) as exc:
        with contextlib.suppress(Exception):
            await peer.ws.close()
        raise Refused(Code.TIMEOUT, f"handshake failed: {exc or 'timed out'}") from None
