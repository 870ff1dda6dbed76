"""Signature checks ahead of the writer in worker processes (`sigworker`), fed and
read by the event loop, their outcomes recorded in the SigCache.

Started on first need, not with the ledger: most ledgers (a wallet's node, a test)
never see a batch big enough to be worth a process. Until they are up, and for
good once they have failed too often, `check` returns None and the caller checks in
threads: a worker only ever saves time, the writer checks whatever the cache lacks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sigcache import SigCache
from .sigworker import CHECKED_OK, FRAME, UNCHECKED, request_frame
from .tx import Transaction

log = logging.getLogger(__name__)

# Fewer signatures than this are checked in threads: the trip costs more than it saves.
WORKER_MIN = 32
# Workers lost (died, or never started) before the pool gives up on processes.
MAX_LOSSES = 3
# How long a closing worker may take to exit after its stdin closes.
EXIT_WAIT = 2.0
# A worker with checks pending that answers none for this long is lost (stopped, or
# stuck): admission waits for its rounds. The biggest request, half a full block's
# signatures, takes a fifth of a second.
STALL_SECONDS = 10.0
# Where `tuichain` is, for a worker started from a checkout that was never installed.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass
class _Worker:
    proc: asyncio.subprocess.Process
    # Requests sent and not answered yet, in order, with their transactions.
    pending: deque[tuple[asyncio.Future[None], Sequence[Transaction]]] = field(
        default_factory=deque)
    items: int = 0  # signatures in `pending`
    reader: asyncio.Task[None] | None = None
    watchdog: asyncio.TimerHandle | None = None  # armed while checks are pending


class SigPool:
    """`count` worker processes (none when `count` < 2: on one core a process only
    adds the trip, and threads there wait for no one)."""

    def __init__(self, count: int, sigcache: SigCache,
                 stall_seconds: float = STALL_SECONDS) -> None:
        self.count = count if count >= 2 else 0
        self.sigcache = sigcache
        self.stall_seconds = stall_seconds
        self._workers: list[_Worker] = []
        self._starting: asyncio.Task[None] | None = None
        self._losses = 0
        self._closed = False
        self.checked = 0  # signatures the workers answered

    @property
    def ready(self) -> bool:
        return bool(self._workers)

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers]

    def check(self, txs: Sequence[Transaction], share_min: int) -> asyncio.Future[Any] | None:
        """Send `txs` to the workers, split in shares of at least `share_min`; the future
        is done once their outcomes are in the cache (or a worker was lost: then they are
        not). None when no worker is up: starting them, if they may be."""
        if not self._workers:
            self._start_soon()
            return None
        by_load = sorted(self._workers, key=lambda w: w.items)
        shares = max(1, min(len(by_load), len(txs) // max(1, share_min)))
        if shares == 1:
            return self._send(by_load[0], txs)
        return asyncio.gather(*(self._send(w, txs[i::shares])
                                for i, w in enumerate(by_load[:shares])))

    def start(self) -> None:
        """Start the workers now rather than at the first big round (a backlog of small
        blocks, or a bench that must not time their start)."""
        if not self._workers:
            self._start_soon()

    async def started(self) -> bool:
        """Wait until every worker answers (an empty request: its imports are done), or
        starting them stopped; whether all are up."""
        self.start()
        while self._starting is not None:
            await asyncio.shield(self._starting)
        await asyncio.gather(*(self._send(w, ()) for w in self._workers))
        return len(self._workers) == self.count > 0

    def _send(self, w: _Worker, txs: Sequence[Transaction]) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        assert w.proc.stdin is not None
        # Buffered by the transport: what is in flight is bounded by the callers (the
        # admission window, the sync's queue of blocks), not by this pipe.
        w.proc.stdin.write(request_frame([tx.encoded for tx in txs]))
        w.pending.append((done, txs))
        w.items += len(txs)
        if w.watchdog is None:
            self._arm(w)
        return done

    def _arm(self, w: _Worker) -> None:
        w.watchdog = asyncio.get_running_loop().call_later(self.stall_seconds, self._stalled, w)

    def _stalled(self, w: _Worker) -> None:
        w.watchdog = None
        if w in self._workers and w.pending:
            w.proc.kill()
            self._lose(w, f"no answer in {self.stall_seconds:g} s")

    def _start_soon(self) -> None:
        if (self.count and self._starting is None and not self._closed
                and self._losses < MAX_LOSSES):
            self._starting = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        try:
            while len(self._workers) < self.count and not self._closed:
                try:
                    proc = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "tuichain.core.sigworker",
                        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.DEVNULL, env=env)
                except OSError as exc:
                    self._losses = MAX_LOSSES
                    log.warning("cannot start a signature worker (%s): checking "
                                "signatures in threads", exc)
                    return
                w = _Worker(proc)
                if self._closed:
                    await self._stop(w)
                    return
                w.reader = asyncio.get_running_loop().create_task(self._read(w))
                self._workers.append(w)
        finally:
            self._starting = None

    async def _read(self, w: _Worker) -> None:
        """Record each answer in the cache as it comes; a worker that ends or breaks the
        protocol is lost."""
        out = w.proc.stdout
        assert out is not None
        why = "it exited"
        try:
            while True:
                (n,) = FRAME.unpack(await out.readexactly(FRAME.size))
                reply = await out.readexactly(n)
                if not w.pending or len(reply) != len(w.pending[0][1]):
                    why = "it answered out of turn"
                    w.proc.kill()
                    break
                done, txs = w.pending.popleft()
                w.items -= len(txs)
                self.checked += len(txs)
                if w.watchdog is not None:  # it answers: the next answer has as long
                    w.watchdog.cancel()
                    w.watchdog = None
                if w.pending:
                    self._arm(w)
                self.sigcache.record([(tx.txid, ok == CHECKED_OK)
                                      for tx, ok in zip(txs, reply, strict=True)
                                      if ok != UNCHECKED])
                if not done.done():
                    done.set_result(None)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self._lose(w, why)

    def _lose(self, w: _Worker, why: str) -> None:
        if w not in self._workers:
            return
        self._workers.remove(w)
        self._release(w)
        # Its stdin closed ends it if it still runs. Not a kill: asking the process
        # object to signal a child that has exited reaps it behind asyncio's back.
        if w.proc.stdin is not None:
            w.proc.stdin.close()
        if self._closed:
            return
        self._losses += 1
        log.warning("signature worker %d lost (%s)%s", w.proc.pid, why,
                    ": starting another" if self._losses < MAX_LOSSES
                    else ": checking signatures in threads from now on")
        self._start_soon()

    @staticmethod
    def _release(w: _Worker) -> None:
        # Unchecked, not failed: the writer checks what the cache does not hold.
        if w.watchdog is not None:
            w.watchdog.cancel()
            w.watchdog = None
        while w.pending:
            done, _ = w.pending.popleft()
            if not done.done():
                done.set_result(None)
        w.items = 0

    async def close(self) -> None:
        """Stop every worker (closing its stdin ends it) and wait for them to exit."""
        self._closed = True
        if self._starting is not None:
            await asyncio.gather(self._starting, return_exceptions=True)
        workers, self._workers = self._workers, []
        await asyncio.gather(*(self._stop(w) for w in workers))

    async def _stop(self, w: _Worker) -> None:
        if w.proc.stdin is not None:
            w.proc.stdin.close()
        try:
            await asyncio.wait_for(w.proc.wait(), EXIT_WAIT)
        except TimeoutError:
            w.proc.kill()
            await w.proc.wait()
        if w.reader is not None:
            w.reader.cancel()
            await asyncio.gather(w.reader, return_exceptions=True)
        self._release(w)
