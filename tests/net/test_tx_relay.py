"""A peer's relayed transactions wait for admission without holding up its other
messages: its pings, blocks and further transactions are read meanwhile, so a burst
joins one batch (one commit) instead of waiting for a commit each. At most
TX_WINDOW of them wait at once; past that its messages wait too."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tests.builders import mine_on, wait_for
from tuichain.core.keys import PrivateKey, address_digest
from tuichain.core.params import COIN, REGTEST
from tuichain.core.tx import Transaction, make_payment
from tuichain.net import protocol as p
from tuichain.net import sync
from tuichain.node import Node

from .conftest import StartNode
from .test_hostile import Hostile

KEY = PrivateKey(bytes(range(32)))


def _payments(n: int) -> list[Transaction]:
    return [make_payment(KEY, REGTEST.network_id, bytes([7]) * 20, COIN // 100, 1_000, i)
            for i in range(n)]


def _hold_admission(node: Node) -> threading.Event:
    """Admission batches wait on the writer thread until the event is set (a writer
    busy with a slow commit)."""
    release = threading.Event()
    real = node.ledger._admit_batch

    def held(txs: Any) -> Any:
        release.wait(30)
        return real(txs)

    node.ledger._admit_batch = held  # type: ignore[method-assign]
    return release


async def _pong(h: Hostile, nonce: int, within: float) -> bool:
    """Whether the node answers PING `nonce` within `within` seconds."""
    await h.send(p.encode_nonce(p.Cmd.PING, nonce))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    assert h.ws is not None
    while (left := deadline - loop.time()) > 0:
        try:
            msg = await h.ws.receive(timeout=left)
        except TimeoutError:
            return False
        cmd, payload = p.Cmd(msg.data[0]), msg.data[1:]
        if cmd == p.Cmd.PONG and p.decode_nonce(payload) == nonce:
            return True
    return False


async def _connected(node: Node, session: Any) -> Hostile:
    h = Hostile(session, node)
    await h.connect()
    await wait_for(lambda: any(i.node_id == h.node_id for i in node.net.peer_infos()),
                   "the peer to be registered")
    return h


async def test_a_peer_is_read_on_while_its_transaction_waits(start_node: StartNode,
                                                            session: Any) -> None:
    node = await start_node("n")
    await mine_on(node.ledger, address_digest(KEY.public_key))
    h = await _connected(node, session)
    release = _hold_admission(node)
    try:
        txs = _payments(20)
        for tx in txs:
            await h.send(p.frame(p.Cmd.TX, tx.encoded))
        # The writer is still held on the first admission, yet the ping is answered.
        assert await _pong(h, 7, within=10), "the ping waited behind the transactions"
        assert node.ledger.mempool_size == 0
    finally:
        release.set()
    await wait_for(lambda: node.ledger.mempool_size == 20, "all 20 admitted, in nonce order")
    assert h.score() == 0


async def test_past_the_window_a_peer_waits_for_its_admissions(
    start_node: StartNode, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync, "TX_WINDOW", 4)
    node = await start_node("n")
    await mine_on(node.ledger, address_digest(KEY.public_key))
    h = await _connected(node, session)
    release = _hold_admission(node)
    try:
        for tx in _payments(4):
            await h.send(p.frame(p.Cmd.TX, tx.encoded))
        assert not await _pong(h, 8, within=0.5), "read past a full window"
    finally:
        release.set()
    assert await _pong(h, 9, within=10)
    await wait_for(lambda: node.ledger.mempool_size == 4, "the window's 4 admitted")


async def test_an_invalid_relayed_transaction_still_costs_its_sender(
    start_node: StartNode, session: Any
) -> None:
    node = await start_node("n")
    await mine_on(node.ledger, address_digest(KEY.public_key))
    h = await _connected(node, session)
    good = _payments(1)[0]
    forged = Transaction(good.network_id, good.sender, good.recipient, good.amount * 2,
                         good.fee, good.nonce, good.memo, good.signature)
    await h.send(p.frame(p.Cmd.TX, forged.encoded))
    await wait_for(lambda: h.score() == sync.TX_PENALTY, "the penalty for a bad signature")
    assert forged.txid in node.net.sync.recent_rejects
    assert node.ledger.mempool_size == 0
