"""Mining control: templates from the ledger, hashing in worker processes, results back in.

The controller lives on the event loop but never hashes there: it hands a
header template to the process pool (pool.py, through adapter.py) and reacts to its
solutions and progress, rebuilding the template whenever the tip moves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..block import Block
from ..chainstate import ImportResult
from ..errors import StorageError
from ..events import BlockFound, MinerUpdate, NewTip, TxAccepted
from ..ledger import Ledger
from ..pow import target_from_bits
from ..tasks import TaskSet
from .adapter import AsyncMiner
from .pool import MinerProgress, MinerSolution, MiningJob

log = logging.getLogger(__name__)

# Re-template at most this often to pick up new mempool transactions.
REFRESH_SECONDS = 5.0
# A found block the store could not take is offered again after this pause, doubled
# after each failure up to the cap: mining resumes soon after the disk has room.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0


@dataclass
class MiningStats:
    found: list[bytes] = field(default_factory=list)  # hashes of blocks this node mined
    stale: list[bytes] = field(default_factory=list)  # of those, ones no longer active
    rate_history: list[float] = field(default_factory=list)


class MiningController:
    def __init__(self, ledger: Ledger, payout: Callable[[], bytes | None], workers: int = 1,
                 pace: float | None = None, retry_max: float = RETRY_MAX_SECONDS) -> None:
        self.ledger = ledger
        self.payout = payout
        self.pace = ledger.policy.mining_pace if pace is None else pace
        self.workers = max(1, workers)
        self.stats = MiningStats()
        self.continuous = False
        self.running = False
        self.template: Block | None = None
        self.retry_max = retry_max
        # Why mining cannot go on right now (the store refuses the found block), or why it
        # stopped on its own; None while all is well.
        self.blocked: str | None = None
        self.error: str | None = None
        self._tasks = TaskSet(log, "miner")
        self.progress: MinerProgress | None = None
        self._job_id = 0
        self._one_shot: asyncio.Future[Block] | None = None
        # Where a one-shot block pays when the caller named an address (`mine N --to`).
        self._one_shot_payout: bytes | None = None
        self._miner = AsyncMiner(self.workers, on_progress=self._on_progress,
                                 on_solution=self._on_solution, on_failure=self._failed)
        self._unsubscribe: Callable[[], None] | None = None
        self._templated_at = 0.0
        self._started = False
        # One template build at a time; a tip change during a build asks for another.
        self._building = False
        self._rebuild = False

    async def start(self) -> None:
        await self._miner.start()
        self._started = True
        self._unsubscribe = self.ledger.events.subscribe(self._on_event)

    async def close(self) -> None:
        self.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self._tasks.close()
        if self._started:
            await self._miner.close()
            self._started = False

    def set_workers(self, n: int) -> None:
        self.workers = max(1, n)
        self._miner.set_workers(self.workers)
        if self.running:
            self._schedule()

    async def mine_one(self, payout: bytes | None = None) -> Block:
        """Mine exactly one block on the current tip (the original app's button).

        `payout` pays this block to another address than the wallet's; while
        continuous mining runs, its job is the one that finds the block, so a
        payout cannot be honoured then and is refused.
        """
        if payout is not None and self.continuous:
            raise RuntimeError("continuous mining is running: stop it to mine to another address")
        while self._one_shot_live() and payout != self._one_shot_payout:
            # A block for another payee is under way (automine, another `mine`): ours
            # comes after it, on the tip it makes.
            assert self._one_shot is not None
            # asyncio.wait: its outcome is not ours, and our own cancellation still raises.
            await asyncio.wait([self._one_shot])
        if self._one_shot is not None and not self._one_shot.done():
            return await asyncio.shield(self._one_shot)
        self._one_shot = asyncio.get_running_loop().create_future()
        self._one_shot_payout = payout
        fut = self._one_shot
        self.running = True
        try:
            await self._new_job()
        except BaseException:
            # Nothing will ever solve this one: let later calls start afresh.
            self.running = False
            fut.cancel()
            raise
        return await asyncio.shield(fut)

    async def mine_blocks(self, count: int, payout: bytes | None = None,
                          on_block: Callable[[Block], None] | None = None) -> list[Block]:
        """Mine `count` blocks now, one after another, each on the tip the last one made.

        Raises RuntimeError when a mined block is refused (which only a bug or a
        race with a heavier peer chain causes), so a caller never counts a block
        that is not on the chain.
        """
        found: list[Block] = []
        for _ in range(count):
            block = await self.mine_one(payout)
            if await self.ledger.hash_at(block.txs[0].nonce) != block.hash:
                raise RuntimeError(f"mined block {block.hash_hex} did not become part of the chain")
            found.append(block)
            if on_block is not None:
                on_block(block)
        return found

    def start_continuous(self) -> None:
        self.error = None
        self.continuous = True
        self.running = True
        self._schedule()

    def stop(self) -> None:
        self.continuous = False
        self.running = False
        self.template = None
        if self._started:
            self._miner.cancel()
        if self._one_shot is not None and not self._one_shot.done():
            self._one_shot.cancel()
        self._publish()

    async def _new_job(self) -> None:
        if not self.running:
            return
        address = self._one_shot_payout if self._one_shot_live() else None
        address = address or self.payout()
        if address is None:
            self.stop()
            raise RuntimeError("no wallet: create or load one to mine")
        template = await self.ledger.block_template(address)
        if not self.running:
            return
        self._job_id += 1
        self.template = template
        self._templated_at = time.monotonic()
        self._miner.submit(MiningJob(self._job_id, template.header,
                                     target_from_bits(template.header.bits)))
        self._publish()

    def _one_shot_live(self) -> bool:
        return self._one_shot is not None and not self._one_shot.done()

    def _schedule(self) -> None:
        if self._building:
            self._rebuild = True
            return
        self._building = True
        self._tasks.spawn(self._build(), "building a block template", self._failed)

    async def _build(self) -> None:
        try:
            while True:
                self._rebuild = False
                await self._new_job()
                if not self._rebuild:
                    return
        finally:
            self._building = False

    def _failed(self, exc: BaseException) -> None:
        """A mining task died (already logged): stop, and say so instead of looking busy."""
        self.error = f"mining stopped: {exc}"
        self.blocked = None
        self.stop()

    def _on_event(self, event: object) -> None:
        if not self.running:
            return
        if isinstance(event, NewTip):
            # Between paced blocks there is no template: the pause decides when to go on.
            if self._building or (
                self.template is not None and event.hash != self.template.header.prev_hash
            ):
                self._schedule()
        elif (isinstance(event, TxAccepted) and self.template is not None
              and time.monotonic() - self._templated_at > REFRESH_SECONDS):
            self._schedule()

    def _on_progress(self, progress: MinerProgress) -> None:
        self.progress = progress
        self.stats.rate_history.append(progress.rate)
        del self.stats.rate_history[:-120]
        self._publish()

    def _on_solution(self, solution: MinerSolution) -> None:
        template = self.template
        if template is None or solution.job_id != self._job_id:
            return
        self.template = None
        block = Block(solution.header, template.txs)
        self._tasks.spawn(self._submit(block), "submitting a mined block", self._failed)

    async def _store_block(self, block: Block) -> ImportResult | None:
        """Submit until the store takes it, backing off while it cannot write; None if
        mining was stopped meanwhile."""
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                result = await self.ledger.submit_block(block, source="miner")
            except StorageError as exc:
                if not self.running:
                    return None
                self.blocked = exc.reason
                log.warning("mined block %s not stored (%s); trying again in %.1f s",
                            block.hash_hex, exc.reason, delay)
                self._publish()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            if self.blocked is not None:
                self.blocked = None
                log.info("the store takes blocks again: mining goes on")
            return result

    async def _submit(self, block: Block) -> None:
        result = await self._store_block(block)
        if result is None:
            return
        if result.status in ("connected", "side-branch"):
            height = block.txs[0].nonce  # the coinbase commits to its height
            self.stats.found.append(block.hash)
            self.ledger.events.publish(BlockFound(block.hash, height, block.txs[0].amount))
            log.info("mined block %s at height %d", block.hash_hex, height)
        else:
            log.warning("mined block rejected: %s", result.error)
        if self._one_shot is not None and not self._one_shot.done():
            self._one_shot.set_result(block)
            if not self.continuous:
                self.running = False
                self._publish()
                return
        if self.continuous:
            self._tasks.spawn(self._after_pace(), "pausing between blocks", self._failed)

    async def _after_pace(self) -> None:
        if self.pace > 0:
            await asyncio.sleep(self.pace)
        self._schedule()

    async def stale_blocks(self) -> list[bytes]:
        """Blocks we found that are no longer on the active chain."""
        stale = []
        for h in self.stats.found:
            e = await self.ledger.get_header(h)
            if e is None or await self.ledger.hash_at(e.height) != h:
                stale.append(h)
        self.stats.stale = stale
        return stale

    def _publish(self) -> None:
        p = self.progress
        t = self.template
        self.ledger.events.publish(MinerUpdate(
            running=self.running, continuous=self.continuous, workers=self.workers,
            rate=p.rate if p and self.running else 0.0, hashes=p.hashes if p else 0,
            job_hashes=p.job_hashes if p and self.running else 0,
            height=t.txs[0].nonce if t else None,
            target=target_from_bits(t.header.bits) if t else None,
            txs=len(t.txs) - 1 if t else 0, reward=t.txs[0].amount if t else 0,
        ))
