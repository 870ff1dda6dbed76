"""replay: a payment already mined is sent again, byte for byte, and refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..core.rejections import Code
from .base import Step, Verdict
from .client import Lab
from .common import address, fund_node1, synced, tx

SUMMARY = "a mined payment sent again is refused: its nonce is used"


async def run(lab: Lab, args: list[str]) -> AsyncIterator[Step]:
    lab.require(2, ("regtest",))
    async with lab.mining_paused():
        async for line in fund_node1(lab):
            yield line
        to = await address(lab, 2)
        sent = await lab.control(1, "POST", "/send", {"to": to, "amount": "1"})
        txid = sent["txid"]
        yield f"node1 pays 1 coin to node2 with nonce {sent['nonce']}: transaction {txid[:16]}"
        height = await lab.mine(1, 1)
        await synced(lab)
        yield f"node1 mines block {height} with it; node2 has the block too"
        raw = (await lab.get(1, f"/api/txs/{txid}"))["hex"]
        yield "anyone who saw it can send the same signed bytes again: the lab sends them to node2"
        status, doc = await lab.post_tx(2, raw)
        error = doc.get("error", {}) if isinstance(doc, dict) else {}
        yield f"node2 answers HTTP {status}: {error.get('message', doc)}"
        refusals = [r for r in await lab.rejections(2) if r["id"] == txid]
        info = await tx(lab, 2, txid)
        code = refusals[0]["code"] if refusals else None
        held = (status == 422 and code == Code.BAD_NONCE and info is not None
                and not info["in_mempool"] and info["confirmations"] >= 1)
        if refusals:
            yield f"node2's rejection log: {refusals[0]['code']}: {refusals[0]['reason']}"
        yield Verdict(Code.BAD_NONCE, f"the replayed payment {txid[:16]} was refused; it stays "
                      "confirmed once and never re-entered a mempool", held)
