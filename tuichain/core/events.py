"""Typed ledger events and the bus that delivers them to async subscribers."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .rejections import Code
from .tasks import TaskSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewTip:
    hash: bytes
    height: int
    time: int
    chainwork: int
    txs: int


@dataclass(frozen=True)
class Reorg:
    old_tip: bytes
    new_tip: bytes
    fork_height: int
    disconnected: tuple[bytes, ...]
    connected: tuple[bytes, ...]


@dataclass(frozen=True)
class BlockRejected:
    hash: bytes
    code: Code
    reason: str
    source: str | None
    # The broken rule's field, the value found and the value allowed, when known.
    field: str | None = None
    value: str | None = None
    expected: str | None = None


@dataclass(frozen=True)
class TxAccepted:
    txid: bytes
    sender: bytes
    recipient: bytes
    amount: int
    fee: int
    source: str | None


@dataclass(frozen=True)
class TxRejected:
    txid: bytes
    code: Code
    reason: str
    source: str | None
    field: str | None = None
    value: str | None = None
    expected: str | None = None


@dataclass(frozen=True)
class BlockFound:
    hash: bytes
    height: int
    reward: int


@dataclass(frozen=True)
class MinerUpdate:
    running: bool
    continuous: bool
    workers: int
    rate: float
    hashes: int
    job_hashes: int
    height: int | None
    target: int | None
    txs: int
    reward: int


@dataclass(frozen=True)
class PeersChanged:
    count: int
    detail: str


@dataclass(frozen=True)
class WalletChanged:
    """The node's wallet was created or unlocked, by the dashboard or anyone else (the
    control channel creates one for `tuichain mine start`)."""

    address: str
    locked: bool


@dataclass(frozen=True)
class LogEvent:
    level: str
    message: str


Event = Any
Handler = Callable[[Event], Awaitable[None] | None]


class EventBus:
    """Fan-out of events on the event loop; a slow or failing subscriber hurts no one else."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._tasks = TaskSet(log, "event bus")

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for handler in list(self._handlers):
            try:
                result = handler(event)
            except Exception:
                log.exception("event handler failed for %s", type(event).__name__)
                continue
            # Most handlers return None; isawaitable's checks cost each event a few µs.
            if result is not None and inspect.isawaitable(result):
                self._tasks.spawn(_awaited(result), f"async handler for {type(event).__name__}")


async def _awaited(result: Awaitable[None]) -> None:
    await result
