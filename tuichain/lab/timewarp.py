"""time-warp: a block dated too far ahead, and one not after the median of the last 11."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from ..core.hashing import hex_to_hash
from ..core.rejections import Code
from .base import Step, Verdict
from .client import Lab
from .common import workdir
from .forge import Forge
from .wire import WirePeer

SUMMARY = "blocks dated past the future limit or not after the median time are refused"


async def _refused(lab: Lab, block_hash: str, code: Code) -> bool:
    return any(r["id"] == block_hash and r["code"] == code for r in await lab.rejections(1))


async def run(lab: Lab, args: list[str]) -> AsyncIterator[Step]:
    lab.require(1, ("regtest", "lab"))
    params = lab.params
    async with lab.mining_paused():
        forge = await Forge.of(lab, 1, workdir(lab, "time-warp"))
        try:
            tip = await lab.status(1)
            tip_hash = hex_to_hash(tip["tip"])
            peer = WirePeer(lab.session, params, lab.node(1).url)
            await peer.connect()
            yield f"the lab connects to node1 as a peer; node1's tip is block {tip['height']}"
            ahead = params.max_future_time + 600
            early = await forge.block_on(tip_hash, when=int(time.time()) + ahead, keep=False)
            yield (f"it sends a valid block dated {ahead // 60} minutes ahead (the limit is "
                   f"{params.max_future_time // 60})")
            await peer.push(early)
            await lab.wait(lambda: _refused(lab, early.hash_hex, Code.TIME_TOO_NEW),
                           "node1 to refuse the block from the future")
            yield f"node1 refuses it: {Code.TIME_TOO_NEW} ({Code.TIME_TOO_NEW.explanation})"
            median = forge.median_time(tip_hash)
            late = await forge.block_on(tip_hash, when=median, keep=False)
            yield ("then a block dated exactly the median of the last "
                   f"{params.mtp_window} block times, {median}")
            await peer.push(late)
            await lab.wait(lambda: _refused(lab, late.hash_hex, Code.TIME_TOO_OLD),
                           "node1 to refuse the block dated in the past")
            yield f"node1 refuses it: {Code.TIME_TOO_OLD} ({Code.TIME_TOO_OLD.explanation})"
            await peer.close()
            still = (await lab.status(1))["tip"] == tip["tip"]
            yield Verdict(Code.TIME_TOO_OLD, "both warped blocks were refused (time-too-new, "
                          "time-too-old) and node1's tip did not move", still)
        finally:
            forge.close()
