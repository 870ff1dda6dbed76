"""reorg N: a private branch one block longer than node1's last N is released."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..core.hashing import hex_to_hash
from ..core.rejections import Code
from .base import LabError, Step, Verdict
from .client import Lab
from .common import address, fund_node1, synced, tx, workdir
from .forge import Forge
from .wire import WirePeer

SUMMARY = "a heavier private branch replaces N blocks; their payments confirm again"


async def run(lab: Lab, args: list[str]) -> AsyncIterator[Step]:
    lab.require(2, ("regtest",))
    try:
        depth = int(args[0]) if args else 2
    except ValueError:
        raise LabError(f"reorg N: N must be a whole number, not {args[0]!r}") from None
    if not 1 <= depth <= 100:
        raise LabError("reorg N: N from 1 to 100")
    async with lab.mining_paused():
        async for line in fund_node1(lab):
            yield line
        forge = await Forge.of(lab, 1, workdir(lab, "reorg"))
        try:
            fork = await lab.status(1)
            parent = hex_to_hash(fork["tip"])
            private = []
            for _ in range(depth + 1):
                block = await forge.block_on(parent, memo=b"lab private branch")
                private.append(block)
                parent = block.hash
            yield (f"the lab mines a private branch of {depth + 1} blocks on block "
                   f"{fork['height']}, shown to nobody")
            sent = await lab.control(1, "POST", "/send",
                                     {"to": await address(lab, 2), "amount": "1"})
            txid = sent["txid"]
            await lab.mine(1, depth)
            await synced(lab)
            info = await tx(lab, 1, txid)
            yield (f"node1 pays node2 ({txid[:16]}) and mines {depth} blocks; the payment is in "
                   f"block {info['height'] if info else '?'}")
            peer = WirePeer(lab.session, lab.params, lab.node(1).url)
            await peer.connect()
            await peer.offer(private)
            yield f"the lab releases its branch to node1: {depth + 1} blocks against {depth}"
            top = private[-1].hash_hex
            await lab.wait(lambda: _tip_is(lab, 1, top), "node1 to switch to the heavier branch")
            back = await tx(lab, 1, txid)
            yield (f"node1 reorganised {depth} blocks deep; the payment is "
                   f"{'back in the mempool' if back and back['in_mempool'] else 'not pending'}")
            await peer.close()
            height = await lab.mine(1, 1)
            await synced(lab)
            again = await tx(lab, 1, txid)
            life = await lab.get(1, f"/api/txs/{txid}/life")
            kinds = [e["kind"] for e in life["events"]]
            yield f"node1 mines block {height}: the payment confirms again ({', '.join(kinds)})"
            held = (back is not None and back["in_mempool"] and again is not None
                    and again["confirmations"] >= 1 and "disconnected" in kinds
                    and kinds.count("included") >= 2)
            yield Verdict(Code.LESS_WORK, f"node1's {depth} blocks had less work than the "
                          f"{depth + 1} released; it followed the most work and its payment "
                          "went back to the mempool and was mined again", held)
        finally:
            forge.close()


async def _tip_is(lab: Lab, k: int, block_hash: str) -> bool:
    return bool((await lab.status(k))["tip"] == block_hash)
