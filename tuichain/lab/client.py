"""The devnet a scenario runs on, and how it talks to the nodes: REST and control channel.

Everything is asynchronous (aiohttp), so the Lab screen can run a scenario on its
own event loop; the `tuichain lab` command runs it with asyncio.run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from ..control import PREFIX, cookie_path
from ..core.block import BlockHeader
from ..core.params import NetworkParams, get_network
from ..devnet.state import Devnet, DevnetError, DevnetNode
from .errors import LabError

TIMEOUT = aiohttp.ClientTimeout(total=120)
WAIT_LIMIT = 90.0  # seconds for a condition on a busy machine


class Lab:
    """A running devnet, seen from outside: node k is `lab.node(k)` (1-based)."""

    def __init__(self, net: Devnet, session: aiohttp.ClientSession) -> None:
        self.net = net
        self.params: NetworkParams = get_network(net.network)
        self.session = session

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, directory: Path) -> AsyncIterator[Lab]:
        try:
            net = Devnet.load(directory)
        except DevnetError as exc:
            raise LabError(str(exc)) from None
        if net is None:
            raise LabError(f"no devnet in {directory}: start one with `tuichain devnet`")
        # trust_env off: the nodes are on 127.0.0.1, whatever http_proxy says.
        async with aiohttp.ClientSession(timeout=TIMEOUT, trust_env=False) as session:
            lab = cls(net, session)
            for node in net.members:
                try:
                    await lab.status(node.index)
                except LabError:
                    raise LabError(f"{node.name} ({node.url}) does not answer: is the devnet "
                                   "running? (`tuichain devnet status`)") from None
            yield lab

    def node(self, k: int) -> DevnetNode:
        if not 1 <= k <= self.net.nodes:
            raise LabError(f"this scenario needs node{k}; the devnet has {self.net.nodes}")
        return self.net.members[k - 1]

    def require(self, nodes: int, networks: tuple[str, ...] = ("regtest",)) -> None:
        if self.net.nodes < nodes:
            raise LabError(f"this scenario needs a devnet of {nodes} nodes "
                           f"(`tuichain devnet --nodes {nodes}`)")
        if self.net.network not in networks:
            raise LabError(f"this scenario runs on a {' or '.join(networks)} devnet, "
                           f"not {self.net.network!r}")

    # ---- public REST -------------------------------------------------------------
    async def _json(self, method: str, url: str, **kw: Any) -> tuple[int, Any]:
        try:
            async with self.session.request(method, url, **kw) as resp:
                text = await resp.text()
                return resp.status, json.loads(text) if text else None
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise LabError(f"{url}: {exc or type(exc).__name__}") from None

    async def get(self, k: int, path: str) -> Any:
        status, doc = await self._json("GET", self.node(k).url + path)
        if status != 200:
            raise LabError(f"{self.node(k).name} GET {path}: {_error(status, doc)}")
        return doc

    async def get_or_none(self, k: int, path: str) -> Any:
        status, doc = await self._json("GET", self.node(k).url + path)
        return doc if status == 200 else None

    async def post_tx(self, k: int, tx_hex: str) -> tuple[int, Any]:
        return await self._json("POST", self.node(k).url + "/api/txs", json={"tx": tx_hex})

    async def status(self, k: int) -> dict[str, Any]:
        doc = await self.get(k, "/api/status")
        assert isinstance(doc, dict)
        return doc

    async def headers(self, k: int, start: int, count: int) -> list[BlockHeader]:
        doc = await self.get(k, f"/api/headers?from={start}&count={count}")
        return [BlockHeader.decode(bytes.fromhex(h["hex"])) for h in doc["headers"]]

    async def rejections(self, k: int) -> list[dict[str, Any]]:
        doc = await self.get(k, "/api/rejections?limit=500")
        return list(doc["rejections"])

    # ---- the control channel -------------------------------------------------------
    async def control(self, k: int, method: str, path: str, body: Any = None) -> Any:
        node = self.node(k)
        try:
            token = cookie_path(node.data_dir).read_text().strip()
        except OSError:
            raise LabError(f"{node.name}: no control cookie in {node.data_dir}: "
                           "is it running?") from None
        status, doc = await self._json(
            method, node.url + PREFIX + path, json=body,
            headers={"Authorization": f"Bearer {token}"})
        if status != 200:
            raise LabError(f"{node.name} {path}: {_error(status, doc)}")
        return doc

    async def mine(self, k: int, blocks: int) -> int:
        """Mine `blocks` now on node k (to its wallet); its height afterwards."""
        node = self.node(k)
        token = cookie_path(node.data_dir).read_text().strip()
        url = node.url + PREFIX + "/mine"
        last: dict[str, Any] = {}
        async with self.session.post(url, json={"blocks": blocks},
                                     headers={"Authorization": f"Bearer {token}"}) as resp:
            if resp.status != 200:
                raise LabError(f"{node.name} mine: HTTP {resp.status}")
            async for raw in resp.content:
                doc = json.loads(raw)
                if "error" in doc:
                    raise LabError(f"{node.name} mine: {doc['error']['message']}")
                last = doc
        return int(last["height"])

    @contextlib.asynccontextmanager
    async def mining_paused(self) -> AsyncIterator[list[int]]:
        """Stop continuous mining for the scenario (its race is the one being shown)."""
        paused = []
        for node in self.net.members:
            doc = await self.control(node.index, "GET", "/mining")
            if doc["continuous"]:
                await self.control(node.index, "POST", "/mining/stop")
                paused.append(node.index)
        try:
            yield paused
        finally:
            for k in paused:
                with contextlib.suppress(LabError):
                    await self.control(k, "POST", "/mining/start")

    async def wait(self, cond: Callable[[], Awaitable[bool]], what: str,
                   limit: float = WAIT_LIMIT) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not await cond():
            if loop.time() > deadline:
                raise LabError(f"timed out after {limit:.0f} s waiting for {what}")
            await asyncio.sleep(0.1)

    async def meshed(self) -> bool:
        """Every node has every other devnet node as a peer (by URL: a stranger that
        dialled in from outside the devnet does not count)."""
        urls = {n.url for n in self.net.members}
        for node in self.net.members:
            peers = (await self.get(node.index, "/api/peers"))["peers"]
            if not urls - {node.url} <= {peer["url"] for peer in peers}:
                return False
        return True

    async def same_tip(self, *nodes: int) -> bool:
        tips = {(await self.status(k))["tip"] for k in nodes}
        return len(tips) == 1


def _error(status: int, doc: Any) -> str:
    try:
        return f"{doc['error']['message']} ({doc['error']['code']})"
    except (TypeError, KeyError):
        return f"HTTP {status}"
