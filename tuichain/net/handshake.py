"""The version/verack handshake, in which each side proves the node id it claims.

    dialer   -> listener  version (its node id, public key, a fresh challenge)
    listener -> dialer    version (the same for the listener)
    dialer   -> listener  verack: the dialer's signature over the listener's challenge
    listener -> dialer    verack: the listener's signature over the dialer's challenge

A node id is the hash of the public key (`core.identity`), and the signed message
binds the network, the signer's role, both node ids and both challenges, so a
signature cannot be replayed on another connection, in the other direction or
towards another node. The listener checks the dialer's proof before it signs
anything or registers it, and `precheck`/`check` let the manager refuse: the
first (network, genesis, protocol, self) on what was said, the second (bans,
duplicates) only on an identity that was proven. A refusal is a `reject` with
the reason, then the socket is closed.

What this does not stop: a man in the middle that relays a whole handshake
between two honest nodes (the messages are not encrypted or bound to the
socket); see "Threats and defences" in docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Callable

from aiohttp import WSMsgType

from ..core.identity import NodeIdentity, proves
from ..core.params import NetworkParams
from ..core.rejections import Code
from .addrbook import normalize_url
from .peer import Peer
from .protocol import (
    CHALLENGE_LEN,
    Cmd,
    ProtocolError,
    Version,
    decode_reject,
    encode_reject,
    frame,
    split,
)

HANDSHAKE_TIMEOUT = 10.0
DOMAIN = b"tuichain/handshake/v2\0"


class Refused(Exception):
    """A handshake that failed; `code` is machine-readable, `reason` for people."""

    def __init__(self, code: Code | str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def new_challenge() -> bytes:
    return os.urandom(CHALLENGE_LEN)


def proof_message(
    network_id: int,
    signer_dialed: bool,
    signer_id: str,
    verifier_id: str,
    verifier_challenge: bytes,
    signer_challenge: bytes,
) -> bytes:
    """What a side signs in its verack (see the module docstring)."""
    return b"".join(
        (
            DOMAIN,
            struct.pack("<I", network_id),
            b"D" if signer_dialed else b"L",
            bytes.fromhex(signer_id),
            bytes.fromhex(verifier_id),
            verifier_challenge,
            signer_challenge,
        )
    )


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
    peer: Peer,
    params: NetworkParams,
    identity: NodeIdentity,
    ours: Version,
    precheck: Callable[[Peer, Version], None],
    check: Callable[[Peer], None],
) -> None:
    """Both versions, both proofs; `precheck` and `check` raise Refused (see above).

    Sets `peer.node_id` only once the peer proved it.
    """
    dialer = peer.direction == "out"
    try:
        if dialer:
            await peer.send_now(ours.encode())
        try:
            theirs = Version.decode(await _expect(peer, params, Cmd.VERSION))
        except ProtocolError as exc:
            raise Refused(Code.MALFORMED, exc.reason) from None
        peer.version = theirs
        peer.height, peer.chainwork = theirs.height, theirs.chainwork
        if theirs.listen_url and not dialer:
            # For display and the address book only: an advertised URL proves nothing.
            with contextlib.suppress(ValueError):
                peer.url = normalize_url(theirs.listen_url)
        precheck(peer, theirs)
        our_proof = frame(
            Cmd.VERACK,
            identity.sign(
                proof_message(
                    params.network_id,
                    dialer,
                    identity.node_id,
                    theirs.node_id,
                    theirs.challenge,
                    ours.challenge,
                )
            ),
        )
        if not dialer:
            await peer.send_now(ours.encode())
        else:
            await peer.send_now(our_proof)
        signature = await _expect(peer, params, Cmd.VERACK)
        expected = proof_message(
            params.network_id,
            not dialer,
            theirs.node_id,
            identity.node_id,
            ours.challenge,
            theirs.challenge,
        )
        if not proves(theirs.public_key, expected, signature):
            raise Refused(Code.BAD_PROOF, "the verack does not prove the claimed node id")
        peer.node_id = theirs.node_id
        check(peer)
        if not dialer:
            await peer.send_now(our_proof)
    except Refused as exc:
        if exc.code != Code.CLOSED and not peer.ws.closed:
            with contextlib.suppress(Exception):
                await peer.send_now(encode_reject(exc.code, exc.reason))
        with contextlib.suppress(Exception):
            await peer.ws.close()
        raise
    except (TimeoutError, ConnectionError, RuntimeError) as exc:
        with contextlib.suppress(Exception):
            await peer.ws.close()
        raise Refused(Code.TIMEOUT, f"handshake failed: {exc or 'timed out'}") from None
