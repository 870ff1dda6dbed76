"""Wire encodings: round trips, exact lengths, limits."""

from __future__ import annotations

import pytest

from tuichain.core.genesis import genesis_block
from tuichain.core.identity import node_id_of
from tuichain.core.keys import PrivateKey
from tuichain.core.params import REGTEST
from tuichain.net import protocol as p
from tuichain.net.addrbook import ban_key, normalize_url

G = genesis_block(REGTEST)


def test_inv_round_trip_and_truncation() -> None:
    items = [(p.InvType.TX, bytes(32)), (p.InvType.BLOCK, G.hash)]
    data = p.encode_inv(p.Cmd.INV, items)
    cmd, payload = p.split(data, REGTEST)
    assert cmd == p.Cmd.INV
    assert p.decode_inv(payload) == items
    with pytest.raises(p.ProtocolError):
        p.decode_inv(payload[:-1])
    with pytest.raises(p.ProtocolError):
        p.decode_inv(payload[:2] + b"\x09" + payload[3:])  # unknown inventory type


def test_headers_must_chain_and_match_count() -> None:
    data = p.encode_headers([G.header])
    assert p.decode_headers(p.split(data, REGTEST)[1]) == [G.header]
    two = p.encode_headers([G.header, G.header])
    with pytest.raises(p.ProtocolError, match="chain"):
        p.decode_headers(two[1:])
    with pytest.raises(p.ProtocolError):
        p.decode_headers(data[1:] + b"x")


def test_getheaders_round_trip() -> None:
    data = p.encode_getheaders([G.hash, bytes(range(32))], None)
    assert p.decode_getheaders(data[1:]) == ([G.hash, bytes(range(32))], None)
    with pytest.raises(p.ProtocolError):
        p.decode_getheaders(data[1:-1])


def test_split_refuses_unknown_empty_and_oversized() -> None:
    with pytest.raises(p.ProtocolError, match="unknown command"):
        p.split(b"\xff", REGTEST)
    with pytest.raises(p.ProtocolError, match="empty"):
        p.split(b"", REGTEST)
    with pytest.raises(p.ProtocolError, match="exceeds") as info:
        p.split(p.frame(p.Cmd.PING, bytes(9)), REGTEST)
    assert info.value.penalty == 50


def test_version_round_trip_and_strictness() -> None:
    public = PrivateKey(bytes(range(32))).public_key
    v = p.Version(
        "regtest",
        REGTEST.network_id,
        G.hash,
        p.PROTOCOL_VERSION,
        node_id_of(public),
        "http://127.0.0.1:5000",
        7,
        99,
        public,
        bytes(32),
    )
    assert p.Version.decode(v.encode()[1:]) == v
    # A node id that is not its key's, or no key at all, is malformed.
    other = PrivateKey(bytes(32)).public_key
    for wrong in (
        p.encode_json(p.Cmd.VERSION, {**_fields(v), "public_key": other.hex()}),
        p.encode_json(p.Cmd.VERSION, {**_fields(v), "node_id": "abc123"}),
        p.encode_json(p.Cmd.VERSION, {k: x for k, x in _fields(v).items() if k != "challenge"}),
    ):
        with pytest.raises(p.ProtocolError):
            p.Version.decode(wrong[1:])
    with pytest.raises(p.ProtocolError):
        p.Version.decode(b'{"node_id": 5}')
    with pytest.raises(p.ProtocolError):
        p.Version.decode(b"\xff\xfe")


def test_block_frame_costs_one_byte_over_the_encoding() -> None:
    assert len(p.frame(p.Cmd.BLOCK, G.encoded)) == G.size + 1


def test_urls_and_ban_keys() -> None:
    assert normalize_url("127.0.0.1:5000/") == "http://127.0.0.1:5000"
    assert normalize_url("HTTP://LocalHost:80") == "http://localhost:80"
    for bad in ("ftp://x:1", "http://:5", "http://h:5/path", "http://h:99999"):
        with pytest.raises(ValueError, match="URL|host|port|scheme|http"):
            normalize_url(bad)
    # Off loopback the IP is the key; on loopback the proven node id, never a URL.
    assert ban_key("10.1.2.3", "n1") == "10.1.2.3"
    assert ban_key("127.0.0.1", "n1") == "node:n1"


def _fields(v: p.Version) -> dict[str, object]:
    return dict(p.decode_json(v.encode()[1:]))


@pytest.mark.parametrize("decode", [p.decode_addr, p.decode_reject])
def test_deeply_nested_json_is_a_protocol_error(decode) -> None:
    depth = p.MAX_JSON // 2
    with pytest.raises(p.ProtocolError, match="nests"):
        decode(b"[" * depth + b"]" * depth)
