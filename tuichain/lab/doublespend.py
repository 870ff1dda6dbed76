"""double-spend: one nonce spent twice, once on each side of a split; the heavier side wins.

node1's wallet pays node2 on side 1 (the control channel's send). The lab signs a
second payment with the same nonce, from the same key (read from node1's wallet
file, as anyone holding it could), to an address of its own and hands it to node2
on side 2. Side 1 mines one block, side 2 two. After the heal every node follows
side 2's work: its payment stands, node1's own payment is disconnected and refused
(bad-nonce), as both transactions' lives and node1's rejection log show.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from ..control.lab import Lab as Links
from ..control.lab import LabError as LinkError
from ..core.errors import WalletError
from ..core.keys import encode_address
from ..core.rejections import Code
from ..core.tx import make_payment
from ..core.wallet import load_wallet
from .base import LabError, Step, Verdict
from .client import Lab
from .common import address, fund_node1, synced, tx
from .forge import LAB_MINER

SUMMARY = "one nonce paid twice across a split; after the heal the heavier side's payment stands"


async def _links(call: Any, *args: Any) -> None:
    try:
        await asyncio.to_thread(call, *args)
    except LinkError as exc:
        raise LabError(str(exc)) from None


async def _cut_off(lab: Lab, k: int, others: list[int]) -> bool:
    """Node k has no peer among `others` (the split has taken its links down)."""
    urls = {lab.node(o).url for o in others}
    peers = (await lab.get(k, "/api/peers"))["peers"]
    return not any(p["url"] in urls for p in peers)


async def _kinds(lab: Lab, k: int, txid: str) -> list[str]:
    doc = await lab.get_or_none(k, f"/api/txs/{txid}/life")
    return [e["kind"] for e in doc["events"]] if isinstance(doc, dict) else []


async def run(lab: Lab, args: list[str]) -> AsyncIterator[Step]:
    lab.require(2, ("regtest",))
    links = Links.open(lab.net.directory)
    side2 = list(range(2, lab.net.nodes + 1))
    async with lab.mining_paused():
        await _links(links.heal)  # a split left from before would make side 1 wait forever
        async for line in fund_node1(lab):
            yield line
        try:
            await _links(links.split, [[1], side2])
            await lab.wait(lambda: _cut_off(lab, 1, side2), "node1's links to side 2 to go down")
            yield f"the lab splits the devnet: node1 alone on side 1, node{side2[0]}" + (
                f"-node{side2[-1]}" if len(side2) > 1 else "") + " on side 2"
            try:
                _, key = await asyncio.to_thread(load_wallet, lab.node(1).data_dir)
            except WalletError as exc:
                raise LabError(f"node1's wallet: {exc}") from None
            sent = await lab.control(1, "POST", "/send", {"to": await address(lab, 2),
                                                         "amount": "1"})
            first = sent["txid"]
            yield (f"side 1: node1's wallet pays 1 coin to node2 with nonce {sent['nonce']}: "
                   f"transaction {first[:16]}")
            second_tx = make_payment(key, lab.params.network_id, LAB_MINER, 2 * 10**8,
                                     int(sent["fee"]), int(sent["nonce"]))
            second = second_tx.txid_hex
            status, doc = await lab.post_tx(2, second_tx.encoded.hex())
            if status not in (200, 202):
                raise LabError(f"node2 refused the second payment: {doc}")
            yield (f"side 2: the same key, the same nonce {sent['nonce']}, pays 2 coins to "
                   f"{encode_address(lab.params.hrp, LAB_MINER)[:16]}...: transaction "
                   f"{second[:16]}, accepted by node2")
            h1 = await lab.mine(1, 1)
            h2 = await lab.mine(2, 2)
            yield (f"both sides mine: node1 one block (up to {h1}), node2 two (up to {h2}); "
                   "each side's chain holds its own payment")
        finally:
            with contextlib.suppress(LabError):
                await _links(links.heal)
        yield "the lab heals the network"
        await synced(lab)
        tips = {(await lab.status(k))["tip"] for k in range(1, lab.net.nodes + 1)}
        yield f"every node now follows the heavier chain, tip {next(iter(tips))[:16]}"
        kept = [await tx(lab, k, second) for k in range(1, lab.net.nodes + 1)]
        lost = await tx(lab, 1, first)
        life1, life2 = await _kinds(lab, 1, first), await _kinds(lab, 1, second)
        yield f"node1's life of {first[:16]}: {', '.join(life1)}"
        yield f"node1's life of {second[:16]}: {', '.join(life2)}"
        refused = [r for r in await lab.rejections(1) if r["id"] == first]
        if refused:
            yield (f"node1's rejection log: {first[:16]} {refused[0]['code']}: "
                   f"{refused[0]['reason']}")
        held = (len(tips) == 1
                and all(t is not None and t["confirmations"] >= 1 for t in kept)
                and (lost is None or (not lost["in_mempool"] and not lost["confirmations"]))
                and "disconnected" in life1 and "refused" in life1 and "included" in life2
                and any(r["code"] == Code.BAD_NONCE for r in refused))
        yield Verdict(Code.BAD_NONCE, f"side 2 had more work: its payment {second[:16]} stands "
                      f"on every node, and node1's own {first[:16]} was undone and refused, "
                      "its nonce spent", held)
