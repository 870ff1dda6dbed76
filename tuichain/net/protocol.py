"""Wire messages: one binary websocket frame per message, a 1-byte command then its payload.

Blocks, transactions and headers travel in their canonical binary encodings, so
a block costs its own size plus one byte (and the websocket framing). Small
control messages (version, addr, reject) carry JSON: readable, easy to extend,
and never on a hot path. Every command has a payload size limit, checked
before anything is decoded; decoders consume exactly their input or fail.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ..core.block import HEADER_SIZE, BlockHeader
from ..core.errors import DecodeError
from ..core.identity import node_id_of
from ..core.keys import PUBKEY_LEN, SIGNATURE_LEN
from ..core.params import NetworkParams
from ..core.tx import BASE_SIZE, MAX_MEMO

# 2: version carries the node's public key and a challenge; verack carries the
# signature that proves the key (net/handshake.py).
PROTOCOL_VERSION = 2
CHALLENGE_LEN = 32
AGENT = "tuichain/0.1"
MAX_HEADERS = 2000
MAX_INV = 1000
MAX_LOCATOR = 101
MAX_ADDR = 1000
MAX_JSON = 4096
# Room above the largest block for the command byte; the websocket cap adds framing.
BLOCK_OVERHEAD = 64


class Cmd(IntEnum):
    VERSION = 1
    VERACK = 2
    PING = 3
    PONG = 4
    GETADDR = 5
    ADDR = 6
    INV = 7
    GETDATA = 8
    NOTFOUND = 9
    TX = 10
    BLOCK = 11
    GETHEADERS = 12
    HEADERS = 13
    REJECT = 14


class InvType(IntEnum):
    TX = 1
    BLOCK = 2


class ProtocolError(Exception):
    """A message that breaks the protocol; `penalty` is what it costs the sender's score."""

    def __init__(self, reason: str, penalty: int = 20) -> None:
        super().__init__(reason)
        self.reason = reason
        self.penalty = penalty


_INV_LIMIT = 2 + 33 * MAX_INV


# Built once: every message received is checked against its command's limit (a sync
# reads thousands a second), and only a block's depends on the network.
_PAYLOAD_LIMITS = {
    Cmd.VERSION: MAX_JSON,
    Cmd.VERACK: SIGNATURE_LEN,
    Cmd.PING: 8,
    Cmd.PONG: 8,
    Cmd.GETADDR: 0,
    Cmd.ADDR: 256 * MAX_ADDR,
    Cmd.INV: _INV_LIMIT,
    Cmd.GETDATA: _INV_LIMIT,
    Cmd.NOTFOUND: _INV_LIMIT,
    Cmd.TX: BASE_SIZE + MAX_MEMO,
    Cmd.GETHEADERS: 2 + 32 * MAX_LOCATOR + 32,
    Cmd.HEADERS: 2 + HEADER_SIZE * MAX_HEADERS,
    Cmd.REJECT: MAX_JSON,
}


def max_payload(cmd: Cmd, params: NetworkParams) -> int:
    return params.max_block_size if cmd is Cmd.BLOCK else _PAYLOAD_LIMITS[cmd]


def max_frame(params: NetworkParams) -> int:
    """The websocket message cap: the largest block message plus slack."""
    return params.max_block_size + BLOCK_OVERHEAD


def frame(cmd: Cmd, payload: bytes = b"") -> bytes:
    return bytes((cmd,)) + payload


def split(data: bytes, params: NetworkParams) -> tuple[Cmd, bytes]:
    """(command, payload) of a received frame, or ProtocolError."""
    if not data:
        raise ProtocolError("empty message")
    try:
        cmd = Cmd(data[0])
    except ValueError:
        raise ProtocolError(f"unknown command {data[0]}") from None
    payload = data[1:]
    limit = max_payload(cmd, params)
    if len(payload) > limit:
        raise ProtocolError(f"{cmd.name.lower()} of {len(payload)} bytes exceeds {limit}", 50)
    return cmd, payload


# ---- JSON control messages ---------------------------------------------------
def encode_json(cmd: Cmd, obj: Any) -> bytes:
    return frame(cmd, json.dumps(obj, separators=(",", ":")).encode())


def decode_json(payload: bytes) -> Any:
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("payload is not JSON") from None
    except RecursionError:
        # A few thousand '[' fit in MAX_JSON; the parser recurses once per level. Left
        # alone it is a RuntimeError, which the read loop takes for a lost connection.
        raise ProtocolError("payload nests too deeply") from None


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProtocolError(f"version field {name!r} is missing or has the wrong type")
    return value


@dataclass(frozen=True)
class Version:
    network: str
    network_id: int
    genesis: bytes
    protocol: int
    node_id: str
    listen_url: str | None
    height: int
    chainwork: int
    public_key: bytes  # node_id is node_id_of(public_key); the verack proves the key
    challenge: bytes  # fresh per connection: the other side signs it in its verack
    agent: str = AGENT

    def encode(self) -> bytes:
        return encode_json(
            Cmd.VERSION,
            {
                "network": self.network,
                "network_id": self.network_id,
                "genesis": self.genesis.hex(),
                "protocol": self.protocol,
                "node_id": self.node_id,
                "listen_url": self.listen_url,
                "height": self.height,
                "chainwork": hex(self.chainwork),
                "public_key": self.public_key.hex(),
                "challenge": self.challenge.hex(),
                "agent": self.agent,
            },
        )

    @classmethod
    def decode(cls, payload: bytes) -> Version:
        obj = decode_json(payload)
        if not isinstance(obj, dict):
            raise ProtocolError("version is not a JSON object")
        url = obj.get("listen_url")
        if url is not None and (not isinstance(url, str) or len(url) > 256):
            raise ProtocolError("version field 'listen_url' has the wrong type")
        node_id = _field(obj, "node_id", str)
        if not 1 <= len(node_id) <= 64 or not node_id.isalnum():
            raise ProtocolError("version field 'node_id' must be 1-64 letters or digits")
        try:
            genesis = bytes.fromhex(_field(obj, "genesis", str))
            chainwork = int(_field(obj, "chainwork", str), 16)
            public_key = bytes.fromhex(_field(obj, "public_key", str))
            challenge = bytes.fromhex(_field(obj, "challenge", str))
        except ValueError:
            raise ProtocolError("version genesis, chainwork, key or challenge is not hex") from None
        height = _field(obj, "height", int)
        if len(genesis) != 32 or height < 0 or chainwork < 0:
            raise ProtocolError("version genesis, height or chainwork out of range")
        if len(public_key) != PUBKEY_LEN or len(challenge) != CHALLENGE_LEN:
            raise ProtocolError("version public_key or challenge has the wrong length")
        if node_id != node_id_of(public_key):
            raise ProtocolError("version node_id is not the id of its public_key")
        return cls(
            network=str(obj.get("network", "?"))[:32],
            network_id=_field(obj, "network_id", int),
            genesis=genesis,
            protocol=_field(obj, "protocol", int),
            node_id=node_id,
            listen_url=url,
            height=height,
            chainwork=chainwork,
            public_key=public_key,
            challenge=challenge,
            agent=str(obj.get("agent", ""))[:64],
        )


def encode_reject(code: str, reason: str) -> bytes:
    return encode_json(Cmd.REJECT, {"code": code, "reason": reason[:500]})


def decode_reject(payload: bytes) -> tuple[str, str]:
    obj = decode_json(payload)
    if not isinstance(obj, dict):
        raise ProtocolError("reject is not a JSON object")
    return str(obj.get("code", "?"))[:64], str(obj.get("reason", ""))[:500]


def encode_addr(urls: list[str]) -> bytes:
    return encode_json(Cmd.ADDR, urls[:MAX_ADDR])


def decode_addr(payload: bytes) -> list[str]:
    obj = decode_json(payload)
    if not isinstance(obj, list) or len(obj) > MAX_ADDR:
        raise ProtocolError("addr is not a list of at most 1000 URLs")
    if not all(isinstance(u, str) and len(u) <= 256 for u in obj):
        raise ProtocolError("addr entries must be short strings")
    return obj


# ---- binary messages -----------------------------------------------------------
_COUNT = struct.Struct("<H")
_NONCE = struct.Struct("<Q")


def encode_nonce(cmd: Cmd, nonce: int) -> bytes:
    return frame(cmd, _NONCE.pack(nonce))


def decode_nonce(payload: bytes) -> int:
    if len(payload) != 8:
        raise ProtocolError("ping/pong carries an 8-byte nonce")
    return int(_NONCE.unpack(payload)[0])


def encode_inv(cmd: Cmd, items: list[tuple[InvType, bytes]]) -> bytes:
    if len(items) > MAX_INV:
        raise ValueError("too many inventory items for one message")
    parts = [_COUNT.pack(len(items))]
    parts += [bytes((kind,)) + h for kind, h in items]
    return frame(cmd, b"".join(parts))


def decode_inv(payload: bytes) -> list[tuple[InvType, bytes]]:
    if len(payload) < 2:
        raise ProtocolError("inventory message is truncated")
    (count,) = _COUNT.unpack_from(payload)
    if count > MAX_INV or len(payload) != 2 + 33 * count:
        raise ProtocolError("inventory count does not match its length")
    out = []
    for i in range(count):
        off = 2 + 33 * i
        try:
            kind = InvType(payload[off])
        except ValueError:
            raise ProtocolError(f"unknown inventory type {payload[off]}") from None
        out.append((kind, bytes(payload[off + 1 : off + 33])))
    return out


def encode_getheaders(locator: list[bytes], stop: bytes | None = None) -> bytes:
    locator = locator[:MAX_LOCATOR]
    return frame(
        Cmd.GETHEADERS, _COUNT.pack(len(locator)) + b"".join(locator) + (stop or bytes(32))
    )


def decode_getheaders(payload: bytes) -> tuple[list[bytes], bytes | None]:
    if len(payload) < 2:
        raise ProtocolError("getheaders is truncated")
    (count,) = _COUNT.unpack_from(payload)
    if count > MAX_LOCATOR or len(payload) != 2 + 32 * count + 32:
        raise ProtocolError("getheaders locator count does not match its length")
    locator = [bytes(payload[2 + 32 * i : 34 + 32 * i]) for i in range(count)]
    stop = bytes(payload[-32:])
    return locator, (None if stop == bytes(32) else stop)


def encode_headers(headers: list[BlockHeader]) -> bytes:
    return encode_header_bytes([h.encoded for h in headers])


def encode_header_bytes(encoded: list[bytes]) -> bytes:
    """A headers message of headers already encoded (80 bytes each, as stored)."""
    return frame(Cmd.HEADERS, _COUNT.pack(len(encoded)) + b"".join(encoded))


def decode_headers(payload: bytes) -> list[BlockHeader]:
    """Headers in order; each must build on the one before it."""
    if len(payload) < 2:
        raise ProtocolError("headers is truncated")
    (count,) = _COUNT.unpack_from(payload)
    if count > MAX_HEADERS or len(payload) != 2 + HEADER_SIZE * count:
        raise ProtocolError("headers count does not match its length")
    out: list[BlockHeader] = []
    for i in range(count):
        try:
            h = BlockHeader.decode(bytes(payload[2 + 80 * i : 82 + 80 * i]))
        except DecodeError as exc:
            raise ProtocolError(f"bad header: {exc.reason}") from None
        if out and h.prev_hash != out[-1].hash:
            raise ProtocolError("headers do not form a chain")
        out.append(h)
    return out
