"""The mining controller: templates from the ledger, real worker processes, events."""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from collections.abc import Iterator
from multiprocessing import resource_tracker
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


@pytest.fixture
def unspawnable(tmp_path: Path) -> Iterator[None]:
    """Worker processes spawned from a Python that does not exist: their start fails."""
    spawn = multiprocessing.get_context("spawn")
    resource_tracker.ensure_running()  # spawned from the same setting: start it first
    spawn.set_executable(str(tmp_path / "no-such-python"))
    try:
        yield
    finally:
        spawn.set_executable(sys.executable)


async def test_workers_that_cannot_start_leave_the_node_up_and_say_why(
    tmp_path: Path, unspawnable: None
) -> None:
    """The controller's start does not wait for the workers; when their spawn fails,
    mining says why instead of looking busy, and mining again gives the same reason."""
    ledger = await Ledger.open(tmp_path, REGTEST)
    miner = MiningController(ledger, lambda: PAYOUT, workers=1, pace=0.0)
    try:
        await miner.start()
        miner.start_continuous()
        async with asyncio.timeout(30):
            while miner.error is None:  # noqa: ASYNC110 - the spawn fails on its own thread
                await asyncio.sleep(0.01)
        assert "the miner's workers did not start" in miner.error
        assert not miner.running
        miner.start_continuous()
        async with asyncio.timeout(30):
            while miner.error is None:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert "the miner's workers did not start" in miner.error
        assert not miner.running
    finally:
        await miner.close()
        await ledger.close()
    assert (ledger.tip.height if ledger.tip else 0) == 0


async def test_workers_are_spawned_by_the_first_job_not_by_the_start(tmp_path: Path) -> None:
    """A node that never mines (a sync, a wallet node) pays no worker interpreter."""
    ledger = await Ledger.open(tmp_path, REGTEST)
    miner = MiningController(ledger, lambda: PAYOUT, workers=2, pace=0.0)
    try:
        await miner.start()
        miner.set_workers(1)
        await asyncio.sleep(0.5)  # time in which a spawn started by start() would be on
        assert multiprocessing.active_children() == []
        block = await asyncio.wait_for(miner.mine_one(), 30)
        assert ledger.tip is not None
        assert ledger.tip.hash == block.hash
        assert len(multiprocessing.active_children()) == 1
    finally:
        await miner.close()
        await ledger.close()
