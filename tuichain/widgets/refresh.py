"""Coalesced refreshes: many triggers (a burst of new tips while syncing) make one reload.

A request while a reload waits or runs marks the data dirty; the next reload
starts after the current one finished and a short delay, never two at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from textual.dom import DOMNode
from textual.timer import Timer

log = logging.getLogger("tuichain.ui")


class Refresher:
    def __init__(
        self, owner: DOMNode, reload: Callable[[], Awaitable[None]], delay: float = 0.25
    ) -> None:
        self._owner = owner
        self._reload = reload
        self.delay = delay  # may be changed between requests
        self._timer: Timer | None = None
        self._running = False
        self._dirty = False

    def request(self, *, now: bool = False) -> None:
        if self._running:
            self._dirty = True
            return
        if self._timer is not None:
            if not now:
                return
            self._timer.stop()
        # Not 0: Textual's Timer divides by its delay, and a 0 s timer still
        # pending at shutdown raises ZeroDivisionError.
        self._timer = self._owner.set_timer(0.001 if now else self.delay, self._fire)

    async def _fire(self) -> None:
        self._timer = None
        self._running = True
        self._dirty = False
        try:
            await self._reload()
        except Exception:
            # A failed reload (node stopping, a closed ledger) must not end the app;
            # the next trigger tries again.
            log.exception("refresh failed")
        finally:
            self._running = False
        if self._dirty:
            self.request()
