"""Item 11 of issue 9: the inbound cap under a burst, deeply nested JSON, a ban ended once."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.builders import wait_for
from tuichain.net import protocol as p
from tuichain.net.manager import MAX_INBOUND

from .conftest import StartNode
from .test_hostile import Hostile

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as s:
        yield s


async def _try(h: Hostile) -> bool:
    """True when the node completed the handshake with this peer."""
    try:
        cmd, _ = await h.connect()
    except (AssertionError, aiohttp.ClientError, TimeoutError):
        return False
    return cmd == p.Cmd.VERACK


@pytest.mark.slow
async def test_a_burst_of_handshakes_cannot_pass_the_inbound_cap(
    start_node: StartNode, session: aiohttp.ClientSession
) -> None:
    node = await start_node("n")
    peers = [Hostile(session, node) for _ in range(200)]
    accepted = await asyncio.gather(*[_try(h) for h in peers])
    inbound = [i for i in node.net.peer_infos() if i.direction == "in"]
    assert 0 < len(inbound) <= MAX_INBOUND
    assert sum(accepted) <= MAX_INBOUND
    for h in peers:
        if h.ws is not None:
            await h.ws.close()


@pytest.mark.parametrize("cmd", [p.Cmd.ADDR, p.Cmd.REJECT])
async def test_deeply_nested_json_is_a_malformed_message(
    start_node: StartNode, session: aiohttp.ClientSession, cmd: p.Cmd
) -> None:
    node = await start_node("n")
    h = Hostile(session, node)
    await h.connect()
    await wait_for(lambda: h.score() == 0 and bool(node.net.peer_infos()), "registration")
    depth = p.MAX_JSON // 2 - 1
    await h.send(p.frame(cmd, b"[" * depth + b"]" * depth))
    await wait_for(lambda: h.score() == 20, "the malformed message to be scored")
    assert [i.node_id for i in node.net.peer_infos()] == [h.node_id]


async def test_messages_buffered_after_a_ban_do_not_ban_again(
    start_node: StartNode, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tuichain.net.manager")
    node = await start_node("n")
    h = Hostile(session, node)
    await h.connect()
    await wait_for(lambda: bool(node.net.peer_infos()), "registration")
    for _ in range(40):  # 5 are enough for a ban; the rest arrive after it
        await h.send(b"\xff")
    await wait_for(h.banned, "the ban")
    await wait_for(lambda: not node.net.peer_infos(), "the disconnect")
    bans = [r for r in caplog.messages if r.startswith(f"banned {h.key}")]
    scores = [int(m) for m in re.findall(r"\(\+\d+ = (\d+)\)", "\n".join(caplog.messages))]
    assert len(bans) == 1
    assert max(scores) == 100
