"""Mining by itself for development chains: a block per payment (automine) or on a clock.

Automine is anvil's default: a transaction entering the mempool is mined into
a block at once, so a script's payment is confirmed before its next line. The
block clock (`--block-time S`) mines a block every S seconds, empty or not.
Both use the controller's one-shot mining, so they pay the node's wallet and
share its workers; they are meant for regtest, where a block is instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ..block import Block
from ..events import TxAccepted
from .controller import MiningController

log = logging.getLogger(__name__)


class AutoMiner:
    def __init__(self, controller: MiningController, *, on_tx: bool = False,
                 interval: float | None = None) -> None:
        self.controller = controller
        self.on_tx = on_tx
        self.interval = interval
        self._drain: asyncio.Task[None] | None = None
        self._clock: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self.on_tx:
            self._unsubscribe = self.controller.ledger.events.subscribe(self._on_event)
            if self.controller.ledger.mempool_size:  # payments left from the last run
                self._kick()
        if self.interval is not None:
            self._clock = asyncio.ensure_future(self._tick())

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in (self._drain, self._clock):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._drain = self._clock = None

    def _on_event(self, event: object) -> None:
        if isinstance(event, TxAccepted):
            self._kick()

    def _kick(self) -> None:
        # One drain at a time: payments arriving while a block is mined wait for the next.
        if self._drain is None or self._drain.done():
            self._drain = asyncio.ensure_future(self._mine_pending())

    async def _mine_pending(self) -> None:
        ledger = self.controller.ledger
        while ledger.mempool_size:
            block = await self._mine("automine")
            # A block that took no payment means the rest cannot be mined (yet): stop
            # rather than mine empty blocks in a loop; the next payment tries again.
            if block is None or len(block.txs) <= 1:
                return

    async def _tick(self) -> None:
        assert self.interval is not None
        while True:
            await asyncio.sleep(self.interval)
            await self._mine("block time")

    async def _mine(self, why: str) -> Block | None:
        try:
            return await self.controller.mine_one()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.controller.error = f"{why}: {exc}"
            log.error("%s could not mine: %s", why, exc)
            return None
