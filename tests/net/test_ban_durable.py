"""Item 3 of issue 9: a ban a node has made survives SIGKILL right after it is visible."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
import tomli_w

from tests.e2e.helpers import NodePool, http_json, wait_for
from tuichain.net.addrbook import MAX_BANS, PEERS_FILE

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


def test_bans_on_disk_hold_from_the_first_answer_after_a_start(pool: NodePool) -> None:
    """The book is read before the node listens: no REST answer, and no inbound peer,
    meets a node that has not yet read its bans (a big book makes the window wide)."""
    node = pool.prepare("n")
    until = time.time() + 3600
    bans = [{"key": f"node:{i:032x}", "until": until, "reason": "test"}
            for i in range(MAX_BANS)]
    node.data_dir.mkdir(parents=True, exist_ok=True)
    (node.data_dir / PEERS_FILE).write_text(tomli_w.dumps({"addresses": [], "bans": bans}))
    node.start()
    first = wait_for(lambda: _first_answer(node), "the node's first answer on /api/peers", 60)
    assert len(first) == MAX_BANS, f"the first answer listed {len(first)} of {MAX_BANS} bans"


def _first_answer(node: Any) -> list[str] | None:
    status, doc = http_json(node.url + "/api/peers")
    return [b["key"] for b in doc["bans"]] if status == 200 else None
