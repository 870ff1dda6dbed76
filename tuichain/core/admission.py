"""Transaction admission: submissions queued on the loop, admitted by the writer in
batches (group commit), their signatures checked ahead on the verify pool.

A base class of the Ledger, which provides the writer, the verify pool and the chain.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from .chainstate import ChainState
from .errors import ValidationError
from .events import EventBus, TxAccepted, TxRejected
from .mempool import AddResult
from .sigcache import SigCache
from .sigpool import SigPool
from .tx import Transaction

T = TypeVar("T")
# Threads checking signatures ahead of the writer, of submissions and of downloaded
# blocks: libsodium's verify releases the GIL, so threads use every core without
# pickling anything.
MAX_VERIFY_THREADS = 4


def verify_threads() -> int:
    """One verify thread per core this process may run on (at most MAX_VERIFY_THREADS):
    under `taskset` or a container's CPU set, more threads than cores only take turns."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform
        cores = os.cpu_count() or 1
    return max(1, min(MAX_VERIFY_THREADS, cores))

# Signature checks of a batch of submissions are split across the verify threads
# when the batch has at least PARALLEL_VERIFY_MIN: below that, handing the work over
# costs more than the second core gains.
PARALLEL_VERIFY_MIN = 8
# Admissions at most in one writer call (a bound on how long one holds the writer);
# the signatures of those behind are checked on the verify pool meanwhile.
ADMIT_BATCH = 256
# Submissions a round of checks sent to the worker processes holds at most.
VERIFY_CHUNK = 64


@dataclass
class _QueuedTx:
    """A submitted transaction waiting for the writer."""

    tx: Transaction
    source: str | None
    answer: asyncio.Future[Transaction]
    verified: asyncio.Future[None] | None  # its signature check ahead, if one was started


class Admission:
    """submit_tx and queue_tx, and the batches behind them; the Ledger provides the rest."""

    events: EventBus
    sigcache: SigCache
    sigpool: SigPool
    mempool_size: int
    admit_hooks: list[Callable[[Transaction, list[bytes], list[bytes]], None]]
    _verifier: ThreadPoolExecutor
    _verify_threads: int
    _tx_queue: list[_QueuedTx]
    _tx_drain: asyncio.Task[None] | None
    _unverified: list[Transaction]
    _verify_round: asyncio.Future[None] | None

    def _init_admission(self) -> None:
        # Submissions waiting for the writer, and the task admitting them.
        self._tx_queue = []
        self._tx_drain = None
        # Submissions arriving while the writer is busy, gathered for one verify round.
        self._unverified = []
        self._verify_round = None

    @property
    def chain(self) -> ChainState:
        raise NotImplementedError

    async def _store(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    def _check_ahead(self, txs: Sequence[Transaction], share_min: int) -> asyncio.Future[Any]:
        raise NotImplementedError

    def _preverify(self, txs: Sequence[Transaction]) -> None:
        raise NotImplementedError

    async def submit_tx(self, tx: Transaction, source: str | None = None) -> Transaction:
        """Admit to the mempool or raise ValidationError (also published as TxRejected).

        Returns once the transaction is in the stored mempool. Submissions that
        arrive while the writer is busy are admitted together (group commit): one
        writer call and one SQL transaction for all, each with its own outcome,
        events and hooks in submission order."""
        return await self.queue_tx(tx, source)

    def queue_tx(self, tx: Transaction, source: str | None = None) -> asyncio.Future[Transaction]:
        """Queue `tx` for admission, as `submit_tx`, and return its answer to come without
        waiting: a peer relaying many is read on meanwhile, and they join one batch."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Transaction] = loop.create_future()
        # While the writer admits a batch, the signatures of the next are checked on the
        # verify pool; an idle writer checks a lone submission itself (no extra hop).
        verified = self._preverify_tx(tx) if self._tx_drain is not None else None
        self._tx_queue.append(_QueuedTx(tx, source, answer, verified))
        if self._tx_drain is None:
            self._tx_drain = loop.create_task(self._drain_txs())
        return answer

    def _preverify_tx(self, tx: Transaction) -> asyncio.Future[None] | None:
        """The round of signature checks `tx` joins: submissions of one loop turn are
        checked together, by the worker processes or split across the verify threads."""
        if tx.txid in self.sigcache:
            return None
        return self._join_round((tx,))

    def _join_round(self, txs: Sequence[Transaction]) -> asyncio.Future[None]:
        """The round of checks `txs` join (submissions, or a small block's payments)."""
        loop = asyncio.get_running_loop()
        if not self._unverified:
            self._verify_round = loop.create_future()
            loop.call_soon(self._start_verify_round)
        self._unverified.extend(txs)
        this_round = self._verify_round
        assert this_round is not None
        # With worker processes, a round goes out as soon as it is VERIFY_CHUNK long: the
        # writer admits the first while the workers check the next. Threads would only
        # wait for the writer's and the loop's hold on the interpreter: one round a turn.
        if len(self._unverified) >= VERIFY_CHUNK and self.sigpool.ready:
            self._start_verify_round()
        return this_round

    def _start_verify_round(self) -> None:
        if not self._unverified:  # started early, at VERIFY_CHUNK
            return
        txs, self._unverified = self._unverified, []
        done, self._verify_round = self._verify_round, None
        assert done is not None
        checks = self._check_ahead(txs, PARALLEL_VERIFY_MIN)
        # A check that failed (a closing pool) is done all the same: admission checks again.
        def finished(f: asyncio.Future[Any]) -> None:
            if not f.cancelled():
                f.exception()  # retrieved: admission finds and reports any failure itself
            if not done.done():
                done.set_result(None)
        checks.add_done_callback(finished)

    async def _drain_txs(self) -> None:
        """Admit queued submissions batch by batch until none is left."""
        try:
            while self._tx_queue:
                batch = await self._next_batch()
                try:
                    outcomes = await self._store(self._admit_batch, [q.tx for q in batch])
                except BaseException as exc:  # a storage error (or a stop): everyone's answer
                    for q in batch:
                        answer = q.answer
                        if answer.done():
                            continue
                        if isinstance(exc, asyncio.CancelledError):
                            answer.cancel()
                        else:
                            answer.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                self.mempool_size = len(self.chain.mempool)
                for q, out in zip(batch, outcomes, strict=True):
                    self._answer_tx(q.tx, q.source, out, q.answer)
        finally:
            self._tx_drain = None

    async def _next_batch(self) -> list[_QueuedTx]:
        """The queue's head once its signatures are checked, with those after it whose
        checks are done too (at most ADMIT_BATCH): rounds still out join a later batch."""
        queue = self._tx_queue
        first = queue[0].verified
        if first is not None and not first.done():
            await asyncio.wait([first])
        n = 1
        while n < min(len(queue), ADMIT_BATCH):
            verified = queue[n].verified
            if verified is not None and not verified.done():
                break
            n += 1
        batch = queue[:n]
        del queue[:n]
        return batch

    def _answer_tx(self, tx: Transaction, source: str | None,
                   out: AddResult | ValidationError, answer: asyncio.Future[Transaction]) -> None:
        # Published here rather than by the waiting caller: a caller that gave up
        # waiting still had its transaction admitted, and its peers must hear of it.
        if isinstance(out, ValidationError):
            self.events.publish(TxRejected(tx.txid, out.code, out.reason, source,
                                           out.field, out.value, out.expected))
            if not answer.done():
                answer.set_exception(out)
            return
        try:
            for admit_hook in self.admit_hooks:
                admit_hook(tx, out.replaced, out.evicted)
        except Exception as exc:
            if not answer.done():
                answer.set_exception(exc)
            return
        self.events.publish(TxAccepted(tx.txid, tx.sender_address, tx.recipient, tx.amount,
                                       tx.fee, source))
        if not answer.done():
            answer.set_result(tx)

    def _admit_batch(self, txs: list[Transaction]) -> list[AddResult | ValidationError]:
        """On the writer: a batch's signatures first on the verifier threads (libsodium
        releases the GIL, so both cores check them and admission finds them cached),
        then every admission in one SQL transaction."""
        chain = self.chain
        if len(txs) >= PARALLEL_VERIFY_MIN:
            # Not those already pending: a flood of duplicates must not cost a check each.
            fresh = [tx for tx in self.sigcache.unchecked(txs) if tx.txid not in chain.mempool]
            shares = [fresh[i::self._verify_threads] for i in range(self._verify_threads)]
            others = [self._verifier.submit(self._preverify, share) for share in shares[1:]]
            self._preverify(shares[0])  # the writer takes a share itself
            for done in others:
                done.result()
        return chain.admit_txs(txs)
