"""lighter-longer: more blocks with less work (spread-out timestamps) do not win."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..core.hashing import hex_to_hash
from ..core.rejections import Code
from .base import LabError, Step, Verdict
from .client import Lab
from .common import workdir
from .forge import Forge
from .wire import WirePeer

SUMMARY = "a longer chain with less work (low-difficulty timestamps) loses"


async def run(lab: Lab, args: list[str]) -> AsyncIterator[Step]:
    lab.require(1, ("lab",))
    params = lab.params
    interval = params.retarget_interval
    async with lab.mining_paused():
        forge = await Forge.of(lab, 1, workdir(lab, "lighter-longer"))
        try:
            fork = await lab.status(1)
            honest_blocks = 2 * interval
            # Each step four target spacings apart: every retarget cuts the difficulty 4x.
            step = 4 * params.target_spacing + 1
            parent = hex_to_hash(fork["tip"])
            stamp = forge.entry(parent).header.time
            chain = []
            for _ in range(honest_blocks + 2):
                stamp += step
                block = await forge.block_on(parent, when=stamp, memo=b"lab lighter chain")
                chain.append(block)
                parent = block.hash
            yield (f"an attacker forks at block {fork['height']} and mines {len(chain)} blocks "
                   f"dated {step} s apart, so the difficulty falls at every retarget")
            await lab.mine(1, honest_blocks)
            honest = await lab.status(1)
            yield f"node1 mines {honest_blocks} blocks at the real pace, up to {honest['height']}"
            ours = forge.chainwork(chain[-1].hash)
            if ours >= int(honest["chainwork"], 16):
                raise LabError("the attacker's chain came out heavier; run it again")
            peer = WirePeer(lab.session, params, lab.node(1).url)
            await peer.connect()
            await peer.offer(chain)
            for block in chain:
                await peer.push(block)
            top = chain[-1].hash_hex
            await lab.wait(lambda: _known(lab, top), "node1 to store the attacker's headers")
            seen = await lab.get(1, f"/api/blocks/{top}")
            await peer.close()
            now = await lab.status(1)
            yield (f"released: node1 knows the attacker's block {seen['height']} "
                   f"(work {int(seen['chainwork'], 16):,}) beside its own tip {now['height']} "
                   f"(work {int(now['chainwork'], 16):,})")
            held = (now["tip"] == honest["tip"] and seen["height"] > now["height"]
                    and int(seen["chainwork"], 16) < int(now["chainwork"], 16))
            yield Verdict(Code.LESS_WORK, f"node1 kept its {honest_blocks} blocks against "
                          f"{len(chain)}: most work, not most blocks", held)
        finally:
            forge.close()


async def _known(lab: Lab, block_hash: str) -> bool:
    return await lab.get_or_none(1, f"/api/blocks/{block_hash}") is not None
