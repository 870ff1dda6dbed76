"""Item 3 of issue 9: a ban a node has made survives SIGKILL right after it is visible."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest

from tests.e2e.helpers import NodePool, wait_for

from .test_hostile import Hostile

_DATA = (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[NodePool]:
    nodes = NodePool(tmp_path)
    yield nodes
    nodes.close()


def _bans(node: Any) -> list[str]:
    return [b["key"] for b in node.get("/api/peers")["bans"]]


async def _misbehave(url: str) -> str:
    async with aiohttp.ClientSession() as session:
        h = Hostile(session, cast(Any, SimpleNamespace(listen_url=url)))
        await h.connect()
        for _ in range(5):
            await h.send(b"\xff")
        assert h.ws is not None
        # Stay until the node hangs up: leaving first could end the connection before
        # the node has read the frames.
        while not h.ws.closed and (await h.ws.receive(timeout=30)).type in _DATA:
            pass
        return h.key


def test_a_ban_survives_sigkill_right_after_it_is_visible(pool: NodePool) -> None:
    node = pool.spawn("n")
    for _ in range(3):
        key = asyncio.run(_misbehave(node.url))
        wait_for(lambda key=key: key in _bans(node), f"the ban of {key}", 30)
        node.kill()  # at once: no graceful save
        node.start().wait_ready()
        assert key in _bans(node), f"{key} was forgotten by the restart"
