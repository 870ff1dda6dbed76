"""The REST API over a real socket: happy paths, and JSON 4xx for every kind of bad input."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

import aiohttp
import pytest

from tests.builders import mine_on, wait_for
from tuichain.core.hashing import hex_to_hash
from tuichain.core.keys import PrivateKey, address_digest, encode_address
from tuichain.core.merkle import verify_proof
from tuichain.core.params import COIN, REGTEST
from tuichain.core.tx import make_payment
from tuichain.node import Node
from tuichain.server import make_app

from .conftest import StartNode, build_block

KEY = PrivateKey(bytes(range(1, 33)))
ADDR = encode_address(REGTEST.hrp, address_digest(KEY.public_key))


@pytest.fixture
async def api(start_node: StartNode) -> AsyncIterator[tuple[Node, aiohttp.ClientSession]]:
    node = await start_node("n")
    await mine_on(node.ledger, address_digest(KEY.public_key))
    tx = make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 0)
    await node.ledger.submit_tx(tx, "test")
    await mine_on(node.ledger)
    async with aiohttp.ClientSession(node.listen_url) as s:
        yield node, s


async def get(s: aiohttp.ClientSession, path: str, status: int = 200) -> Any:
    async with s.get(path) as r:
        assert r.status == status, (path, r.status, await r.text())
        assert r.content_type == "application/json"
        assert "Access-Control-Allow-Origin" not in r.headers
        return await r.json()


async def test_status_blocks_headers(api) -> None:
    node, s = api
    st = await get(s, "/api/status")
    assert {
        "network",
        "height",
        "tip",
        "tip_time",
        "chainwork",
        "peers",
        "mempool",
        "syncing",
    } <= st.keys()
    assert st["height"] == 2
    assert st["network"] == "regtest"
    page = await get(s, "/api/blocks?from=0&count=100")
    assert [b["height"] for b in page["blocks"]] == [0, 1, 2]
    assert page["blocks"][2]["hash"] == st["tip"]
    assert page["blocks"][2]["tx_count"] == 2
    latest = await get(s, "/api/blocks?count=1")
    assert [b["height"] for b in latest["blocks"]] == [2]
    by_hash = await get(s, f"/api/blocks/{st['tip']}")
    by_height = await get(s, "/api/blocks/2")
    assert by_hash == by_height
    assert by_hash["confirmations"] == 1
    assert by_hash["status"] == "active"
    assert by_hash["txs"][1]["amount"] == COIN
    assert by_hash["txs"][1]["amount_decimal"] == "1"
    hdrs = await get(s, "/api/headers?from=1&count=5")
    assert [h["height"] for h in hdrs["headers"]] == [1, 2]


async def test_tx_with_proof_address_mempool_peers(api) -> None:
    node, s = api
    block = await get(s, "/api/blocks/2")
    txid = block["txs"][1]["txid"]
    info = await get(s, f"/api/txs/{txid}")
    assert info["height"] == 2
    assert info["confirmations"] == 1
    assert not info["in_mempool"]
    proof = info["proof"]
    assert verify_proof(
        hex_to_hash(txid),
        proof["index"],
        [hex_to_hash(h) for h in proof["branch"]],
        hex_to_hash(proof["root"]),
    )
    acct = await get(s, f"/api/addresses/{ADDR}")
    assert acct["nonce"] == 1
    assert acct["balance"] == REGTEST.subsidy(1) - COIN - 1_000
    assert {h["txid"] for h in acct["history"]} >= {txid}
    assert (await get(s, "/api/mempool"))["count"] == 0
    assert (await get(s, "/api/peers"))["peers"] == []


async def test_post_tx_happy_path(api) -> None:
    node, s = api
    tx = make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 1)
    async with s.post("/api/txs", json={"tx": tx.encoded.hex()}) as r:
        assert r.status == 202
        assert (await r.json())["txid"] == tx.txid_hex
    pending = await get(s, f"/api/txs/{tx.txid_hex}")
    assert pending["in_mempool"]
    assert pending["proof"] is None
    assert (await get(s, "/api/mempool"))["txs"][0]["txid"] == tx.txid_hex


BAD_POSTS: list[tuple[Any, int, str]] = [
    (b"{not json", 400, "bad-json"),
    (b"\xff\xfe", 400, "bad-json"),
    (b"[1, 2]", 400, "bad-request"),
    (b"{}", 400, "missing-field"),
    (b'{"tx": 5}', 400, "bad-type"),
    (b'{"tx": null}', 400, "bad-type"),
    (b'{"tx": "zz"}', 400, "bad-hex"),
    (b'{"tx": "00ff"}', 400, "malformed-tx"),
    (json.dumps({"tx": "00" * 5000}).encode(), 400, "bad-tx"),
    (b"x" * 100_000, 413, "too-large"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_POSTS)
async def test_bad_posts_get_json_errors(api, body: bytes, status: int, code: str) -> None:
    node, s = api
    before = node.ledger.mempool_size
    async with s.post("/api/txs", data=body, headers={"Content-Type": "application/json"}) as r:
        assert r.status == status
        assert (await r.json())["error"]["code"] == code
    assert node.ledger.mempool_size == before


async def test_deeply_nested_json_is_a_400_not_a_500(api) -> None:
    # Past Python's recursion limit json raises RecursionError, not ValueError.
    node, s = api
    body = b"[" * 60_000
    async with s.post("/api/txs", data=body, headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
        assert (await r.json())["error"]["code"] == "bad-json"


async def test_invalid_transactions_get_422(api) -> None:
    node, s = api
    good = make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 1)
    cases = {
        "bad-signature": dataclasses.replace(good, amount=2 * COIN),
        "bad-nonce": make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 0),
        "insufficient-funds": make_payment(KEY, REGTEST.network_id, bytes(20), 10**15, 0, 1),
        "bad-amount": make_payment(KEY, REGTEST.network_id, bytes(20), 0, 1_000, 1),
        "wrong-network": make_payment(KEY, 7, bytes(20), COIN, 1_000, 1),
    }
    for code, tx in cases.items():
        async with s.post("/api/txs", json={"tx": tx.encoded.hex()}) as r:
            assert r.status == 422, code
            err = (await r.json())["error"]
            assert err["code"] == code
            assert err["message"]
    assert node.ledger.mempool_size == 0


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/blocks/xyz", 400, "bad-hash"),
        ("/api/blocks/" + "00" * 32, 404, "not-found"),
        ("/api/blocks/999", 404, "not-found"),
        ("/api/txs/1234", 400, "bad-hash"),
        ("/api/txs/" + "ab" * 32, 404, "not-found"),
        ("/api/addresses/nonsense", 400, "bad-address"),
        ("/api/addresses/" + encode_address("tc", bytes(20)), 400, "bad-address"),
        ("/api/blocks?count=abc", 400, "bad-parameter"),
        ("/api/blocks?count=1000", 400, "bad-parameter"),
        ("/api/blocks?from=-1", 400, "bad-parameter"),
        ("/api/addresses/" + ADDR + "?limit=0", 400, "bad-parameter"),
        ("/api/nothing", 404, "not-found"),
        ("/p2p", 400, "bad-request"),
    ],
)
async def test_bad_gets_get_json_errors(api, path: str, status: int, code: str) -> None:
    node, s = api
    body = await get(s, path, status)
    assert body["error"]["code"] == code
    assert body["error"]["message"]


async def test_wrong_method_and_no_cors(api) -> None:
    node, s = api
    async with s.delete("/api/status", headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 405
        assert (await r.json())["error"]["code"] == "method-not-allowed"
        assert not any(h.lower().startswith("access-control") for h in r.headers)
    async with s.options(
        "/api/txs",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    ) as r:
        assert r.status == 405
        assert not any(h.lower().startswith("access-control") for h in r.headers)


async def test_openapi_lists_every_path(api) -> None:
    node, s = api
    doc = await get(s, "/api/openapi.json")
    assert doc["openapi"].startswith("3.")
    app = make_app(node, node.net)
    routes = {r.canonical for r in app.router.resources() if r.canonical.startswith("/api")}
    assert routes == set(doc["paths"])


async def test_status_and_openapi_carry_the_installed_version(api) -> None:
    _node, s = api
    installed = version("tuichain")
    assert (await get(s, "/api/status"))["version"] == installed
    assert (await get(s, "/api/openapi.json"))["info"]["version"] == installed


async def test_supply_states_the_conservation_law(api) -> None:
    node, s = api
    sup = await get(s, "/api/supply")
    assert sup["height"] == 2
    assert sup["tip"] == (await get(s, "/api/status"))["tip"]
    assert sup["issued"] == REGTEST.supply_at(2)
    # The fee of the payment went to block 2's miner: nothing left the ledger.
    assert (sup["balances"], sup["unclaimed"], sup["conserved"]) == (sup["issued"], 0, True)
    assert sup["issued_decimal"] == "100"
    # A miner may claim less than subsidy plus fees: those units are gone for good.
    tip = node.ledger.tip
    assert tip is not None
    parent = await node.ledger.get_header(tip.hash)
    assert parent is not None
    short = build_block(parent.header, 3, reward=REGTEST.subsidy(3) - 7)
    assert (await node.ledger.submit_block(short)).status == "connected"
    sup = await get(s, "/api/supply")
    assert sup["issued"] == REGTEST.supply_at(3)
    assert sup["unclaimed"] == 7
    assert sup["balances"] == sup["issued"] - 7
    assert sup["conserved"] is True
    assert sup["balances"] == await node.ledger.supply()


async def test_status_error_is_null_when_all_is_well(api) -> None:
    _node, s = api
    assert (await get(s, "/api/status"))["error"] is None


async def test_peers_count_the_messages_each_link_carries(start_node: StartNode) -> None:
    """/api/peers counts each link's messages both ways: what one side sent the other
    received, and a relayed payment adds to both."""
    a = await start_node("a")
    b = await start_node("b")
    await mine_on(a.ledger, address_digest(KEY.public_key))
    await b.net.connect(a.listen_url)
    await wait_for(lambda: b.ledger.tip is not None and b.ledger.tip.height == 1, "the sync")

    async def link(node: Node) -> dict[str, Any]:
        async with aiohttp.ClientSession(node.listen_url) as s:
            peers = (await get(s, "/api/peers"))["peers"]
        assert len(peers) == 1
        return dict(peers[0])

    async def settled() -> tuple[dict[str, Any], dict[str, Any]]:
        # Equal once nothing is in flight: read until two views agree.
        while True:
            on_a, on_b = await link(a), await link(b)
            if (on_a["messages_sent"] == on_b["messages_received"]
                    and on_b["messages_sent"] == on_a["messages_received"]):
                return on_a, on_b
            await asyncio.sleep(0.05)

    on_a, on_b = await asyncio.wait_for(settled(), 30)
    assert on_a["messages_sent"] > 0
    assert on_b["messages_sent"] > 0
    tx = make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 0)
    await a.ledger.submit_tx(tx, "test")
    await wait_for(lambda: b.ledger.mempool_size == 1, "the relay")
    after_a, _ = await asyncio.wait_for(settled(), 30)
    # At least the announcement and the transaction itself, answering b's request.
    assert after_a["messages_sent"] >= on_a["messages_sent"] + 2
    assert after_a["messages_received"] >= on_a["messages_received"] + 1
