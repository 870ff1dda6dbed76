"""Pilot tests of the explainers on real nodes: a payment's life on screen, a refused
transaction in the rejection explainer, the retarget screen's regtest sentence."""

from __future__ import annotations

from typing import Any

import aiohttp
from textual.pilot import Pilot

from tuichain.app import TuichainApp
from tuichain.core.keys import PrivateKey
from tuichain.core.params import COIN, REGTEST
from tuichain.core.tx import make_payment
from tuichain.screens.explorer_details import TxScreen

from .conftest import MakeConfig, MakeNode, app_started, mine_block, static_text, table_rows, until

SIZE = (100, 32)


def body(pilot: Pilot[Any]) -> str:
    return static_text(pilot, "#detail-body")


def life(pilot: Pilot[Any]) -> str:
    """The timeline part of the detail view (the status line also counts confirmations)."""
    text = body(pilot)
    start = text.find("Life of this transaction")
    end = text.find("Merkle proof")
    return "" if start < 0 else text[start:end if end > start else None]


async def test_a_payment_followed_to_two_confirmations_on_screen(
    make_config: MakeConfig, make_node: MakeNode,
) -> None:
    other = await make_node("b", wallet=True)
    assert other.address is not None
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await node.create_wallet(None)
        await mine_block(node)
        tx = await node.send(other.address, COIN, 2_000)
        await pilot.press("w")
        await until(pilot, lambda: table_rows(pilot, "#history")[:1] != []
                    and table_rows(pilot, "#history")[0][0] == "pending", "the pending row")
        pilot.app.screen.query_one("#history").focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TxScreen), "the transaction's detail")
        assert app.screen.txid == tx.txid  # type: ignore[attr-defined]
        await until(pilot, lambda: "accepted to the mempool" in life(pilot), "its life so far")
        assert "signed here" in life(pilot)
        await mine_block(node)
        await until(pilot, lambda: "included in block 2" in life(pilot), "the inclusion")
        assert "2 confirmations" not in life(pilot)
        await mine_block(node)
        await until(pilot, lambda: "2 confirmations" in life(pilot), "the second confirmation")
        text = life(pilot)
        assert text.index("signed here") < text.index("included in block 2") < text.index(
            "2 confirmations")


async def test_a_bad_transaction_over_rest_is_explained_with_its_field(
    make_config: MakeConfig,
) -> None:
    key = PrivateKey(bytes(range(3, 35)))
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await mine_block(node, key.address_digest)
        bad = make_payment(key, REGTEST.network_id, bytes(20), COIN, 1_000, 5)
        async with (
            aiohttp.ClientSession(node.listen_url) as s,
            s.post("/api/txs", json={"tx": bad.encoded.hex()}) as r,
        ):
            assert r.status == 422
        await pilot.press("x")
        await until(pilot, lambda: bool(app.screen.query("#rejections"))
                    and len(table_rows(pilot, "#rejections")) == 1, "the refusal listed")
        row = table_rows(pilot, "#rejections")[0]
        assert row[2] == "rest"
        assert row[3] == "bad-nonce"
        detail = static_text(pilot, "#rejection-detail")
        assert "nonce 5, expected 0" in detail
        assert "The sender's nonce was already used or skips one still missing." in detail
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TxScreen), "the refused transaction")
        await until(pilot, lambda: "refused: bad-nonce" in body(pilot), "its life")
        assert "not held" in body(pilot)


async def test_regtest_says_it_never_retargets(make_config: MakeConfig) -> None:
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await node.create_wallet(None)
        await mine_block(node)
        await pilot.press("t")
        await until(pilot, lambda: bool(app.screen.query("#retarget-info"))
                    and "no retarget" in static_text(pilot, "#retarget-info"), "the sentence")
