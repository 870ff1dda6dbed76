"""The mining controller: templates from the ledger, real worker processes, events."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tuichain.core.events import BlockFound
from tuichain.core.keys import PrivateKey
from tuichain.core.ledger import Ledger
from tuichain.core.mining import MiningController
from tuichain.core.params import REGTEST

PAYOUT = PrivateKey(bytes([7]) * 32).address_digest


async def test_mine_one_without_a_wallet_fails_cleanly_and_can_be_retried(
    tmp_path: Path,
) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST)
    payout: list[bytes | None] = [None]
    miner = MiningController(ledger, lambda: payout[0], workers=1, pace=0.0)
    await miner.start()
    try:
        with pytest.raises(RuntimeError, match="no wallet"):
            await miner.mine_one()
        assert not miner.running
        payout[0] = PAYOUT
        # The failed attempt must not leave a pending one-shot that later calls wait on.
        block = await asyncio.wait_for(miner.mine_one(), 30)
        assert ledger.tip is not None
        assert ledger.tip.hash == block.hash
        assert (await ledger.account(PAYOUT)).balance == REGTEST.subsidy(1)
    finally:
        await miner.close()
        await ledger.close()


async def test_continuous_mining_reports_each_block_at_its_own_height(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST)
    found: list[BlockFound] = []
    ledger.events.subscribe(lambda e: found.append(e) if isinstance(e, BlockFound) else None)
    miner = MiningController(ledger, lambda: PAYOUT, workers=1, pace=0.02)
    await miner.start()
    try:
        miner.start_continuous()
        async with asyncio.timeout(30):
            while len(found) < 5:  # noqa: ASYNC110 - waiting on real worker processes
                await asyncio.sleep(0.02)
        miner.stop()
        await asyncio.sleep(0.2)
        height = ledger.tip.height if ledger.tip else 0
        await asyncio.sleep(0.3)
        assert (ledger.tip.height if ledger.tip else 0) == height, "stop() stops mining"
        assert [f.height for f in found] == list(range(1, len(found) + 1))
        for f in found:
            assert await ledger.hash_at(f.height) == f.hash
        assert miner.stats.found == [f.hash for f in found]
        assert await miner.stale_blocks() == []
    finally:
        await miner.close()
        await ledger.close()
