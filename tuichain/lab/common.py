"""Steps several scenarios share: a funded node1, its address, a block's place on a node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .base import LabError
from .client import Lab

TIE_WAIT = 15.0  # seconds two tips may differ before the lab nudges them (see synced)
TIE_BREAKS = 3


def workdir(lab: Lab, name: str) -> Path:
    return lab.net.directory / "lab" / name


async def address(lab: Lab, k: int) -> str:
    doc = await lab.control(k, "GET", "/mining")
    if doc["address"] is None:
        raise LabError(f"node{k} has no wallet: the devnet gives every node one")
    return str(doc["address"])


async def fund_node1(lab: Lab) -> AsyncIterator[str]:
    """Mine a block to node1 if its wallet cannot pay; all nodes on one tip afterwards."""
    await synced(lab)
    doc = await lab.get(1, f"/api/addresses/{await address(lab, 1)}")
    if int(doc.get("balance", 0)) < 10 * 10**8:
        yield "node1 has no coins to pay with yet: it mines a block to its wallet"
        await lab.mine(1, 1)
    await synced(lab)


async def connected(lab: Lab) -> None:
    """Every node a peer of every other: a scenario started right after `tuichain devnet`
    must not mine before the nodes have met, or each keeps its own first block."""
    await lab.wait(lab.meshed, "every devnet node to connect to every other")


async def synced(lab: Lab) -> None:
    """All nodes on one tip. Two tips of equal work never resolve by themselves (each node
    keeps the one it saw first), and a block mined in the moment two nodes were still
    shaking hands is never announced to the one that missed it; either way, after a while
    the node with the most work mines one more block, whose announcement settles it."""
    await connected(lab)
    nodes = range(1, lab.net.nodes + 1)
    for _ in range(TIE_BREAKS):
        try:
            await lab.wait(lambda: lab.same_tip(*nodes), "all nodes to share one tip",
                           limit=TIE_WAIT)
            return
        except LabError:
            works = {k: int((await lab.status(k))["chainwork"], 16) for k in nodes}
            await lab.mine(max(nodes, key=lambda k: (works[k], -k)), 1)
    await lab.wait(lambda: lab.same_tip(*nodes), "all nodes to share one tip")


async def tx(lab: Lab, k: int, txid: str) -> dict[str, Any] | None:
    doc = await lab.get_or_none(k, f"/api/txs/{txid}")
    return doc if isinstance(doc, dict) else None
