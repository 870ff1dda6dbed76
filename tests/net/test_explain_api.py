"""GET /api/txs/{txid}/life and GET /api/rejections, checked against the served OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jsonschema
import pytest

from tests.builders import mine_on, wait_for
from tuichain.core.keys import PrivateKey, address_digest
from tuichain.core.params import COIN, REGTEST
from tuichain.core.tx import make_payment
from tuichain.node import Node

from .conftest import StartNode

KEY = PrivateKey(bytes(range(2, 34)))


@pytest.fixture
async def api(start_node: StartNode) -> AsyncIterator[tuple[Node, aiohttp.ClientSession]]:
    node = await start_node("n")
    await mine_on(node.ledger, address_digest(KEY.public_key))
    async with aiohttp.ClientSession(node.listen_url) as s:
        yield node, s


def validate(document: dict[str, Any], schema_name: str, body: Any) -> None:
    """Check `body` against a component schema, resolving refs inside the served document."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


async def fetch(s: aiohttp.ClientSession, path: str, status: int = 200) -> Any:
    async with s.get(path) as r:
        assert r.status == status, (path, r.status, await r.text())
        return await r.json()


async def test_life_and_rejections_match_the_served_schemas(api) -> None:
    node, s = api
    document = await fetch(s, "/api/openapi.json")
    for path in ("/api/txs/{txid}/life", "/api/rejections"):
        assert path in document["paths"]
    good = make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 0)
    async with s.post("/api/txs", json={"tx": good.encoded.hex()}) as r:
        assert r.status == 202
    # Nonce 5 where 1 is next (0 is pending): refused with the field and both values.
    bad = make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 5)
    async with s.post("/api/txs", json={"tx": bad.encoded.hex()}) as r:
        assert r.status == 422
    await mine_on(node.ledger)

    life = await fetch(s, f"/api/txs/{good.txid_hex}/life")
    validate(document, "TxLife", life)
    kinds = [e["kind"] for e in life["events"]]
    assert kinds[:3] == ["origin", "accepted", "included"], kinds
    assert life["events"][0]["text"] == "submitted over REST"
    assert life["height"] == 2
    assert life["confirmations"] == 1

    refused = await fetch(s, f"/api/txs/{bad.txid_hex}/life")
    validate(document, "TxLife", refused)
    assert refused["events"][-1]["kind"] == "refused"
    assert "nonce 5, expected 1" in refused["events"][-1]["text"]

    page = await fetch(s, "/api/rejections?limit=10")
    validate(document, "Rejections", page)
    entry = page["rejections"][0]
    assert entry["id"] == bad.txid_hex
    assert (entry["source"], entry["code"], entry["field"], entry["value"], entry["expected"]) == (
        "rest", "bad-nonce", "nonce", "5", "1")
    assert entry["explanation"].startswith("The sender's nonce")


async def test_explain_endpoints_refuse_bad_input_as_json(api) -> None:
    _, s = api
    document = await fetch(s, "/api/openapi.json")
    missing = await fetch(s, "/api/txs/" + "ab" * 32 + "/life", 404)
    validate(document, "Error", missing)
    await fetch(s, "/api/txs/nothex/life", 400)
    await fetch(s, "/api/rejections?limit=0", 400)
    await fetch(s, "/api/rejections?limit=x", 400)
    empty = await fetch(s, "/api/rejections")
    validate(document, "Rejections", empty)
    assert empty == {"count": 0, "rejections": []}


async def test_life_across_peers_names_the_sender_and_counts_announcements(
    start_node: StartNode,
) -> None:
    a, b, c = [await start_node(n) for n in "abc"]
    for x in (b, c):
        await x.net.connect(a.listen_url)
        await wait_for(lambda x=x: any(p.node_id == x.node_id for p in a.net.peer_infos()),
                       "the inbound side to register")
    await mine_on(a.ledger, address_digest(KEY.public_key))
    await wait_for(lambda: b.ledger.tip == a.ledger.tip and c.ledger.tip == a.ledger.tip,
                   "the block everywhere")
    tx = make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 0)
    await a.ledger.submit_tx(tx, "rest")
    await wait_for(lambda: b.ledger.mempool_size == 1 and c.ledger.mempool_size == 1, "the tx")
    assert a.txlife is not None
    assert b.txlife is not None
    await wait_for(lambda: (line := a.txlife.get(tx.txid)) is not None  # type: ignore[union-attr]
                   and len(line.seen_by) == 2, "both peers asking A for it")
    line = a.txlife.get(tx.txid)
    assert line is not None
    texts = [e.text for e in line.events]
    assert "announced to 2 peers" in texts
    assert "seen by 2 of 2 peers" in texts
    got = b.txlife.get(tx.txid)
    assert got is not None
    assert got.events[0].text == f"received from peer {a.listen_url}"
    assert got.events[1].kind == "accepted"
