"""The async face of the ledger: one writer thread owns the chain, one reader serves queries.

Everything slow (the database, signature checks) runs off the event loop. Writes
are serialised on a single thread, so concurrent submissions are admitted one at a
time; reads use their own connection (SQLite in WAL mode, or a second PostgreSQL
session) and never wait behind an import.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .admission import Admission, verify_threads
from .block import Block, BlockHeader
from .chainstate import ChainState, HeadersResult, ImportResult
from .errors import StorageError, StoreError, ValidationError
from .events import BlockRejected, EventBus, NewTip, Reorg, TxAccepted, TxRejected
from .ledger_reads import AccountInfo, StoreReads, TipInfo, tip_info
from .mempool import Mempool, MempoolEntry, MempoolPage
from .orphans import OrphanPool
from .params import NetworkParams
from .policy import Policy
from .rejections import Code
from .sigcache import SigCache
from .sigpool import WORKER_MIN, SigPool
from .store import Store, open_store
from .tx import Transaction

T = TypeVar("T")
DB_FILE = "chain.sqlite3"
log = logging.getLogger(__name__)


# A batch of queued blocks imported in one SQL transaction: at most this many, and
# no more blocks started once this long has passed (so events and readers lag little).
# Not fewer: each commit rewrites the pages of the hash-keyed tables it touched, about
# one a block, and at 64 a 2,000-block sync kept the writer 35 % longer.
BATCH_BLOCKS = 256
BATCH_SECONDS = 0.5
# Fewer signatures than this per thread are not worth splitting a block for.
VERIFY_SHARE_MIN = 32
# Blocks queued behind the writer when one with payments arrives: a sync, worth
# starting the signature workers for even when each block is small.
SYNC_BACKLOG = 8


@dataclass
class _Pending:
    """A submitted block waiting for the writer."""

    block: Block
    source: str | None
    requested: bool
    verified: asyncio.Future[Any]  # its signatures checked into the SigCache
    result: asyncio.Future[ImportResult]


class Ledger(Admission, StoreReads):
    def __init__(self, data_dir: Path, params: NetworkParams,
                 policy: Policy | None = None, *, adopt_empty: bool = True,
                 database: str | None = None) -> None:
        self.data_dir = data_dir
        # A postgresql:// URL, or None for SQLite in the data directory.
        self.database = database
        self.adopt_empty = adopt_empty
        self.params = params
        self.policy = Policy.for_network(params) if policy is None else policy
        self.events = EventBus()
        self.sigcache = SigCache()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="ledger-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="ledger-reader")
        self._verify_threads = verify_threads()
        self._verifier = ThreadPoolExecutor(self._verify_threads,
                                            thread_name_prefix="ledger-verify")
        # Processes for big rounds of checks (a batch of submissions, a block's payments);
        # the threads take the rest and stand in while no process is up.
        self.sigpool = SigPool(self._verify_threads, self.sigcache)
        # Blocks waiting for the writer, and the task importing them in batches.
        self._queue: deque[_Pending] = deque()
        self._importer: asyncio.Task[None] | None = None
        self._queued: dict[bytes, int] = {}  # hash -> times queued, result not yet set
        self._queued_bytes = 0
        self._init_admission()
        self._chain: ChainState | None = None
        self._rstore: Store | None = None
        # What the store raises when it cannot write for now (its backend's errors).
        self._transient: tuple[type[Exception], ...] = (sqlite3.OperationalError,)
        self.tip: TipInfo | None = None
        self.mempool_size = 0
        # What opening the chain finished (a switch a stop left undone), for reports.
        self.opened = ImportResult(bytes(32), "duplicate")
        # Why the last write failed, until a write succeeds again (shown to the user).
        self.storage_error: str | None = None
        # Writer-thread state after a failed import: the tip events were last published
        # for, and whether stored blocks may wait for their switch.
        self._unclaimed: dict[bytes, int] = {}  # by block hash: a block's own never changes
        self._unreported_tip: TipInfo | None = None
        self._switch_pending = False
        # Plain callbacks on the loop after each write, for recorders that need more
        # than the events carry (a transaction's life): (result, tip height) after a
        # block import; (tx, replaced txids, evicted txids) after an admission.
        self.import_hooks: list[Callable[[ImportResult, int], None]] = []
        self.admit_hooks: list[Callable[[Transaction, list[bytes], list[bytes]], None]] = []

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE

    @property
    def db_target(self) -> str | Path:
        return self.database if self.database is not None else self.db_path

    @property
    def db_label(self) -> str:
        """Where the chain is, as it may be shown: never with a password."""
        return self._chain.store.label if self._chain is not None else str(self.db_path)

    @classmethod
    async def open(cls, data_dir: Path, params: NetworkParams,
                   policy: Policy | None = None, *, adopt_empty: bool = True,
                   database: str | None = None) -> Ledger:
        """Open the chain in ``data_dir``, or at ``database`` (a postgresql:// URL) when
        given (``adopt_empty``: see ``SqliteStore``); a refusal raises StoreError (or
        SchemaVersionError) and leaves no thread behind."""
        ledger = cls(data_dir, params, policy, adopt_empty=adopt_empty, database=database)
        try:
            await ledger._write(ledger._open_writer)
            await ledger._read(ledger._open_reader)
        except BaseException:
            await ledger.close()
            raise
        return ledger

    def _open_writer(self) -> None:
        store = open_store(self.db_target, self.params.name, adopt_empty=self.adopt_empty)
        self._transient = store.transient
        try:
            chain = ChainState(store, self.params, self.sigcache,
                               Mempool(self.params, self.policy))
        except ValidationError as exc:
            store.close()
            if exc.code in (Code.WRONG_NETWORK, Code.BAD_GENESIS):
                # The store's error, with the rule's code kept for whoever checks it.
                raise StoreError(
                    f"{store.label}: {exc.reason}; move it aside to start over", exc.code
                ) from None
            raise
        except BaseException:
            store.close()
            raise
        self._chain = chain
        log.info("chain database: %s", store.label)
        self._chain.orphans = OrphanPool.for_policy(self.policy)
        # Nobody can have subscribed to the bus yet, so events for this switch would
        # reach no one: it is logged and kept in `opened` instead.
        self.opened = opened = self._chain.opened
        if opened.reorg:
            log.warning("finished a reorg left by the last stop: %d block(s) disconnected, "
                        "%d connected, %d transaction(s) back in the mempool",
                        len(opened.disconnected), len(opened.connected),
                        len(opened.mempool_added))
        self.tip = tip_info(self._chain.tip)
        self.mempool_size = len(self._chain.mempool)

    def _open_reader(self) -> None:
        self._rstore = open_store(self.db_target, self.params.name, readonly=True)

    async def close(self) -> None:
        await self.sigpool.close()
        if self._importer is not None:
            await asyncio.gather(self._importer, return_exceptions=True)
        if self._chain is not None:
            await self._write(self._chain.store.close)
        if self._rstore is not None:
            rstore, self._rstore = self._rstore, None
            await asyncio.get_running_loop().run_in_executor(self._reader, rstore.close)
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        self._verifier.shutdown(wait=True)
        self._chain = None

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            chain = self._chain
            if chain is not None and (chain.store.reconnected or chain.needs_reload):
                self._reload(chain)
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._writer, run)

    def _reload(self, chain: ChainState) -> None:
        """After a reconnect: the chain state in memory may be behind the database."""
        done = chain.reload()
        chain.store.reconnected = False
        self._unreported_tip = self._unreported_tip or self.tip
        self._switch_pending = False
        self.tip = tip_info(chain.tip)
        self.mempool_size = len(chain.mempool)
        log.warning("reconnected to %s: chain state reloaded at height %d%s", chain.store.label,
                    chain.tip.height, f", {len(done.connected)} block(s) connected"
                    if done.connected else "")

    async def _store(self, fn: Callable[..., T], *args: Any) -> T:
        """A write on the writer thread that may fail for want of storage (disk full,
        read-only file): that becomes StorageError and stays in `storage_error`, shown
        to the user, until a later write succeeds."""
        try:
            out = await self._write(fn, *args)
        except self._transient as exc:
            message = f"cannot write {self.db_label}: {exc}"
            if self.storage_error != message:
                log.error("storage error: %s", message)
            self.storage_error = message
            raise StorageError(message) from exc
        if self.storage_error is not None:
            log.warning("storage writable again: %s", self.db_label)
            self.storage_error = None
        return out

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        store = self._rstore

        def consistent() -> T:
            if store is None:  # opening or closing the reader itself
                return fn(*args)
            try:
                with store.snapshot():
                    return fn(*args)
            except store.transient:
                # A connection lost since the last read shows only when used: a read
                # changes nothing, so one more try on a fresh connection is safe.
                pass
            try:
                with store.snapshot():
                    return fn(*args)
            except store.transient as exc:
                raise StorageError(f"cannot read {store.label}: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._reader, consistent)

    @property
    def chain(self) -> ChainState:
        if self._chain is None:
            raise RuntimeError("ledger is closed")
        return self._chain

    @property
    def rstore(self) -> Store:
        if self._rstore is None:
            raise RuntimeError("ledger is closed")
        return self._rstore

    # ---- writes --------------------------------------------------------
    async def submit_block(self, block: Block, source: str | None = None,
                           requested: bool = True) -> ImportResult:
        """Import a block; `requested=False` for one a peer pushed unasked (kept only if
        it could become the tip)."""
        return await asyncio.shield(self.queue_block(block, source, requested))

    def queue_block(self, block: Block, source: str | None = None,
                    requested: bool = True) -> asyncio.Future[ImportResult]:
        """Queue a block for import and return its result to come, without waiting.

        Its signatures are checked at once on the verify pool (recorded in the
        SigCache, so the writer's own check is a hit) while the writer imports the
        blocks queued before it; blocks that queue up meanwhile (a sync) are then
        imported together, in one SQL transaction per batch. Until its result is
        set, `missing_blocks` does not name it, so a sync does not ask for it again."""
        loop = asyncio.get_running_loop()
        pending = _Pending(block, source, requested, self._preverify_block(block),
                           loop.create_future())
        h, size = block.hash, block.size
        self._queued[h] = self._queued.get(h, 0) + 1
        self._queued_bytes += size
        pending.result.add_done_callback(lambda _: self._unqueue(h, size))
        self._queue.append(pending)
        if self._importer is None or self._importer.done():
            self._importer = loop.create_task(self._import_queue())
        return pending.result

    def _unqueue(self, h: bytes, size: int) -> None:
        self._queued_bytes -= size
        left = self._queued.pop(h) - 1
        if left:
            self._queued[h] = left

    @property
    def blocks_queued(self) -> int:
        """Blocks waiting for import (a sync's download runs ahead of the writer)."""
        return len(self._queued)

    @property
    def blocks_queued_bytes(self) -> int:
        """Their encoded size, counted once for each time one was queued."""
        return self._queued_bytes

    def _preverify_block(self, block: Block) -> asyncio.Future[Any]:
        """The block's signatures checked into the SigCache on the verify pool, split in
        one share per thread when it has enough of them, so one big block uses every core."""
        loop = asyncio.get_running_loop()
        txs = tuple(self.sigcache.unchecked(block.txs[1:]))
        if not txs:  # nothing to check (empty, or all seen in the mempool): no thread hop
            done: asyncio.Future[Any] = loop.create_future()
            done.set_result(None)
            return done
        if len(txs) < WORKER_MIN:
            if self.sigpool.ready:
                # A sync's small blocks: those of one loop turn go to the workers together.
                return self._join_round(txs)
            if len(self._queue) >= SYNC_BACKLOG:
                self.sigpool.start()
        return self._check_ahead(txs, VERIFY_SHARE_MIN)

    def _check_ahead(self, txs: Sequence[Transaction], share_min: int) -> asyncio.Future[Any]:
        """`txs`' signatures checked into the SigCache on the verify pool, in one share
        per thread (at least `share_min` each), so one batch uses every core."""
        if len(txs) >= WORKER_MIN:
            checks = self.sigpool.check(txs, share_min)
            if checks is not None:
                return checks
        loop = asyncio.get_running_loop()
        shares = max(1, min(self._verify_threads, len(txs) // share_min))
        return asyncio.gather(*(loop.run_in_executor(self._verifier, self._preverify,
                                                     txs[i::shares]) for i in range(shares)))

    def _preverify(self, txs: Sequence[Transaction]) -> None:
        # Only the signatures: a bad one is left for the writer to refuse with its reason.
        # Known ones are skipped unlooked-up, so the cache's hits still count the writer's.
        self.sigcache.check_all(self.sigcache.unchecked(txs))

    async def _import_queue(self) -> None:
        """Feed the writer the queued blocks in arrival order, a batch at a time: the
        first block and those after it whose signatures are already checked."""
        while self._queue:
            if not self._queue[0].verified.done():  # asyncio.wait costs two loop turns
                await asyncio.wait([self._queue[0].verified])
            batch = [self._queue.popleft()]
            while (self._queue and len(batch) < BATCH_BLOCKS
                   and self._queue[0].verified.done()):
                batch.append(self._queue.popleft())
            try:
                done = await self._store(self._import_batch, batch)
            except Exception as exc:
                for p in batch:
                    if not p.result.done():
                        p.result.set_exception(exc)
                continue
            # A batch cut short by its time budget: the rest go first in the next one.
            self._queue.extendleft(reversed(batch[len(done):]))
            self._publish_batch(batch, done)

    def _import_batch(self, batch: list[_Pending]) -> list[tuple[TipInfo, ImportResult, TipInfo]]:
        """On the writer: the batch in one SQL transaction (a lone block too: a block
        that extends the tip then costs one commit, not one to store it and one to
        switch), or after a failed write one block on its own, resuming the switch."""
        chain = self.chain
        if self._switch_pending:
            p = batch[0]
            out = [self._import_one(p.block, p.requested, p.source)]
        else:
            before = self._unreported_tip or tip_info(chain.tip)
            self._unreported_tip = before
            items = [(p.block, p.requested, p.source) for p in batch]
            out = []
            for res, tip in chain.process_blocks(items, budget=BATCH_SECONDS):
                after = tip_info(tip)
                out.append((before, res, after))
                before = after
            self._unreported_tip = None
        self.mempool_size = len(chain.mempool)
        return out

    def _import_one(self, block: Block, requested: bool,
                    source: str | None) -> tuple[TipInfo, ImportResult, TipInfo]:
        # Tips read on the writer, around this import only: other submissions
        # queued beside it must not leak into the events this one publishes. After
        # a failed import, from the tip last reported, so its changes are reported.
        chain = self.chain
        before = self._unreported_tip or tip_info(chain.tip)
        pool_before = set(chain.mempool.entries)
        self._unreported_tip = before
        try:
            # A failed write may have stored blocks but not switched to them.
            resumed = chain.activate_stored() if self._switch_pending else None
            self._switch_pending = False
            res = chain.process_block(block, requested=requested, source=source)
        except self._transient:
            self._switch_pending = True
            raise
        self._unreported_tip = None
        if resumed is not None:
            res.disconnected[:0] = resumed.disconnected
            res.connected[:0] = resumed.connected
            res.rejected[:0] = resumed.rejected
            pool_after = set(chain.mempool.entries)
            res.mempool_added = list(pool_after - pool_before)
            res.mempool_removed = list(pool_before - pool_after)
        return before, res, tip_info(chain.tip)

    def _publish_batch(self, batch: list[_Pending],
                       done: list[tuple[TipInfo, ImportResult, TipInfo]]) -> None:
        """Events once the batch is committed, each block's as if imported alone: a
        NewTip for every step, so subscribers see every height the tip passed."""
        if not done:
            return
        self.tip = done[-1][2]
        # Import hooks hear a batch without a reorg as one import of all its blocks (a
        # sync's thousands of blocks cost them one call a batch, not one a block).
        merged = len(done) > 1 and not any(result.disconnected for _, result, _ in done)
        if merged:
            whole = ImportResult(done[-1][1].hash, "connected",
                                 connected=[b for _, r, _ in done for b in r.connected],
                                 mempool_removed=[t for _, r, _ in done
                                                  for t in r.mempool_removed])
            for hook in self.import_hooks:
                hook(whole, done[-1][2].height)
        for p, (old_tip, result, new_tip) in zip(batch[:len(done)], done, strict=True):
            if not merged:
                for hook in self.import_hooks:
                    hook(result, new_tip.height)
            self._publish(p.block, p.source, old_tip, result, new_tip)
            if new_tip.hash != old_tip.hash:
                last = result.connected[-1] if result.connected else None
                self.events.publish(NewTip(new_tip.hash, new_tip.height, new_tip.time,
                                           new_tip.chainwork, len(last.txs) if last else 0))
        for p, (_, result, _) in zip(batch[:len(done)], done, strict=True):
            if not p.result.done():
                p.result.set_result(result)

    def _publish(self, block: Block, source: str | None, old_tip: TipInfo,
                 result: ImportResult, new_tip: TipInfo) -> None:
        if result.error is not None and result.status == "invalid":
            err = result.error
            self.events.publish(BlockRejected(block.hash, err.code, err.reason, source,
                                              err.field, err.value, err.expected))
        for bad, err in result.rejected:
            if bad != block.hash:
                self.events.publish(BlockRejected(bad, err.code, err.reason, source,
                                                  err.field, err.value, err.expected))
        if result.disconnected:
            self.events.publish(Reorg(
                old_tip.hash, new_tip.hash, new_tip.height - len(result.connected),
                tuple(b.hash for b in result.disconnected),
                tuple(b.hash for b in result.connected),
            ))
        if result.mempool_added:
            # Transactions a reorg put back in the mempool are news to peers that
            # only saw them inside the losing blocks: announce them like new ones.
            returned = {tx.txid: tx for b in result.disconnected for tx in b.txs[1:]}
            for txid in result.mempool_added:
                tx = returned.get(txid)
                if tx is not None:
                    self.events.publish(TxAccepted(tx.txid, tx.sender_address, tx.recipient,
                                                   tx.amount, tx.fee, "reorg"))
        for txid, err in result.mempool_refused:
            self.events.publish(TxRejected(txid, err.code, err.reason, "reorg",
                                           err.field, err.value, err.expected))

    async def submit_headers(self, headers: list[BlockHeader]) -> HeadersResult:
        """A peer's headers: kept only if their chain passes the policy's work threshold."""
        return await self._store(self.chain.process_headers, headers, None,
                                 self.policy.header_work_blocks)

    # ---- reads on the writer thread: the mempool and header index live there ----
    async def block_template(self, coinbase_to: bytes, memo: bytes = b"") -> Block:
        return await self._write(self.chain.block_template, coinbase_to, None, memo)

    async def locator(self) -> list[bytes]:
        return await self._write(self.chain.locator)

    async def missing_blocks(self, limit: int = 128, toward: bytes | None = None,
                             skip: frozenset[bytes] = frozenset()) -> list[bytes]:
        skip = skip | self._queued.keys()
        return await self._write(self.chain.missing_blocks, limit, toward, skip)

    async def mempool_entries(self) -> list[MempoolEntry]:
        return await self._write(self.chain.mempool.sorted_entries)

    async def mempool_page(self, limit: int) -> MempoolPage:
        """The `limit` oldest pending entries, with the count and fees of all."""
        return await self._write(self.chain.mempool.page, limit)

    async def mempool_entries_of(self, address: bytes) -> list[MempoolEntry]:
        """One address's pending transactions (a wallet's view), oldest first."""
        return await self._write(self.chain.mempool.entries_of, address)

    async def median_fee_rate(self) -> float | None:
        """Fee per byte of the median pending transaction, computed on the writer: a
        wallet asks on every refresh, and a full mempool is 50,000 entries to move."""
        return await self._write(self.chain.mempool.median_fee_rate)

    async def mempool_tx(self, txid: bytes) -> Transaction | None:
        return await self._write(self.chain.mempool.get, txid)

    async def known_txs(self, txids: Sequence[bytes]) -> set[bytes]:
        """Those of `txids` pending or confirmed, in one writer call: an inv of a
        thousand costs one hop, not one behind each admission batch."""
        def check() -> set[bytes]:
            mempool, store = self.chain.mempool, self.chain.store
            return {t for t in txids if t in mempool or store.tx_location(t) is not None}
        return await self._write(check)

    async def account(self, address: bytes) -> AccountInfo:
        def read() -> AccountInfo:
            balance, nonce = self.chain.store.account(address)
            mp = self.chain.mempool
            return AccountInfo(address, balance, nonce, mp.pending_balance_change(address),
                               nonce + len(mp.by_sender.get(address, {})))
        return await self._write(read)

    async def header_known(self, block_hash: bytes) -> bool:
        return await self._write(lambda: self.chain.entry(block_hash) is not None)
