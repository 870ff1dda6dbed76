"""The control channel over a real socket: only the cookie's token opens it, and it mines."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.builders import wait_for
from tuichain.config import NodeConfig
from tuichain.control import cookie_path
from tuichain.core.keys import PrivateKey, address_digest, encode_address
from tuichain.core.params import COIN, REGTEST
from tuichain.core.tx import make_payment
from tuichain.node import Node

from .conftest import StartNode

KEY = PrivateKey(bytes(range(7, 39)))
ADDR = encode_address(REGTEST.hrp, address_digest(KEY.public_key))

ENDPOINTS = [
    ("GET", "/control/status"),
    ("POST", "/control/mine"),
    ("GET", "/control/mining"),
    ("POST", "/control/mining/start"),
    ("POST", "/control/mining/stop"),
    ("GET", "/control/no-such-thing"),
    ("DELETE", "/control/"),
]


def token_of(node: Node) -> str:
    return cookie_path(node.data_dir).read_text().strip()


def auth(node: Node) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_of(node)}"}


async def mine_lines(s: aiohttp.ClientSession, headers: dict[str, str],
                     body: dict[str, Any]) -> list[dict[str, Any]]:
    async with s.post("/control/mine", json=body, headers=headers) as r:
        assert r.status == 200, await r.text()
        return [json.loads(line) for line in (await r.text()).splitlines()]


async def test_the_cookie_is_owner_only_new_each_start_and_gone_after_stop(
    tmp_path: Path,
) -> None:
    config = NodeConfig(port=0, data_dir=tmp_path / "n", network=REGTEST)
    tokens = []
    for _ in range(2):
        node = Node(config)
        await node.start()
        try:
            path = cookie_path(node.data_dir)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            tokens.append(token_of(node))
        finally:
            await node.stop()
        assert not path.exists()
    assert len(tokens[0]) == 64
    assert tokens[0] != tokens[1]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}],
    ids=["none", "wrong-token", "other-scheme"],
)
async def test_without_the_token_every_control_request_is_refused_and_nothing_changes(
    start_node: StartNode, headers: dict[str, str]
) -> None:
    node = await start_node("n")
    before = node.status()
    async with aiohttp.ClientSession(node.listen_url) as s:
        for method, path in ENDPOINTS:
            body = {"blocks": 3, "to": ADDR} if path.endswith("/mine") else None
            async with s.request(method, path, json=body, headers=headers) as r:
                assert r.status == 401, (method, path)
                assert r.headers["WWW-Authenticate"] == "Bearer"
                assert (await r.json())["error"]["code"] == "unauthorized"
    assert node.status() == before
    assert not node.mining.running
    assert node.wallet is None  # a refused `mining start` made no wallet either
    assert (await node.ledger.account(address_digest(KEY.public_key))).balance == 0


async def test_the_public_api_stays_read_only(start_node: StartNode) -> None:
    node = await start_node("n")
    async with aiohttp.ClientSession(node.listen_url) as s:
        for path in ("/api/status", "/api/mine", "/api/mining/start", "/mine"):
            async with s.post(path, json={"blocks": 1}) as r:
                assert r.status in (404, 405), path
    assert node.status().height == 0
    assert not node.mining.running


async def test_mine_n_streams_each_block_and_pays_the_address_asked_for(
    start_node: StartNode,
) -> None:
    node = await start_node("n")
    async with aiohttp.ClientSession(node.listen_url) as s:
        lines = await mine_lines(s, auth(node), {"blocks": 3, "to": ADDR})
        blocks = [line for line in lines if "hash" in line]
        assert [b["height"] for b in blocks] == [1, 2, 3]
        assert lines[-1] == {"blocks": [b["hash"] for b in blocks], "height": 3}
        assert node.status().tip == blocks[-1]["hash"]
        account = await node.ledger.account(address_digest(KEY.public_key))
        assert account.balance == 3 * REGTEST.subsidy(1)
        assert node.wallet is None  # mined to --to: no wallet needed

        # Without an address it pays the node's own wallet, made as --mine would.
        lines = await mine_lines(s, auth(node), {})
        assert lines[-1]["height"] == 4
        assert node.address is not None

        for bad in ({"blocks": 0}, {"blocks": "2"}, {"blocks": 1, "to": "tc1nope"}):
            async with s.post("/control/mine", json=bad, headers=auth(node)) as r:
                assert r.status == 400, bad
        assert node.status().height == 4


async def test_mining_start_stop_and_status(start_node: StartNode) -> None:
    node = await start_node("n")
    async with aiohttp.ClientSession(node.listen_url) as s:
        async with s.post("/control/mining/start", headers=auth(node)) as r:
            assert (await r.json())["continuous"] is True
        await wait_for(lambda: node.status().height >= 2, "two mined blocks")
        async with s.post("/control/mining/stop", headers=auth(node)) as r:
            assert (await r.json())["running"] is False
        async with s.get("/control/status", headers=auth(node)) as r:
            doc = await r.json()
        assert doc["mining"]["running"] is False
        assert doc["mining"]["found"] >= 2
        assert doc["errors"] == []
        assert doc["sync"] == "synced"
        assert doc["network"] == "regtest"
        assert doc["version"]


async def test_automine_confirms_a_payment_as_soon_as_it_arrives(tmp_path: Path) -> None:
    config = NodeConfig(port=0, data_dir=tmp_path / "n", network=REGTEST, automine=True)
    node = Node(config)
    await node.start()
    try:
        assert node.status().height == 0  # nothing to mine: no block yet
        await node.mining.mine_blocks(1, address_digest(KEY.public_key))
        tx = make_payment(KEY, REGTEST.network_id, bytes(20), COIN, 1_000, 0)
        await node.ledger.submit_tx(tx, "test")
        await wait_for(lambda: node.ledger.mempool_size == 0, "the payment mined")
        info = await node.ledger.tx_info(tx.txid)
        assert info is not None
        assert info.height == 2
    finally:
        await node.stop()


async def test_block_time_mines_on_a_clock(tmp_path: Path) -> None:
    config = NodeConfig(port=0, data_dir=tmp_path / "n", network=REGTEST, block_time=0.05)
    node = Node(config)
    await node.start()
    try:
        await wait_for(lambda: node.status().height >= 3, "three blocks on the clock")
    finally:
        await node.stop()


async def test_send_pays_from_the_node_wallet_only_with_the_token(start_node: StartNode) -> None:
    node = await start_node("n")
    body = {"to": ADDR, "amount": "1.5"}
    async with aiohttp.ClientSession(node.listen_url) as s:
        await mine_lines(s, auth(node), {"blocks": 1})
        async with s.post("/control/send", json=body) as r:
            assert r.status == 401
        assert node.ledger.mempool_size == 0
        async with s.post("/control/send", json={**body, "amount": 1.5}, headers=auth(node)) as r:
            assert r.status == 400  # a float is refused: amounts are exact decimal strings
        async with s.post("/control/send", json=body, headers=auth(node)) as r:
            assert r.status == 200, await r.text()
            txid = (await r.json())["txid"]
        await mine_lines(s, auth(node), {"blocks": 1})
        async with s.get(f"/api/txs/{txid}") as r:
            assert (await r.json())["confirmations"] == 1
    account = await node.ledger.account(address_digest(KEY.public_key))
    assert account.balance == 3 * COIN // 2
