"""The chain's state machine: header index, block import, fork choice by work, reorgs.

Synchronous and single-threaded by design: the async Ledger runs every call
of this class on one writer thread, so no two imports ever interleave.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from .block import Block, BlockHeader
from .blockrun import BlockRun, RunState
from .errors import DecodeError, ValidationError
from .genesis import genesis_block
from .mempool import AddResult, Mempool
from .merkle import merkle_root
from .orphans import OrphanPool
from .params import NetworkParams
from .pow import is_retarget_height, median_time_past, retarget, work_from_bits
from .rejections import Code
from .sigcache import SigCache
from .store import HAVE_DATA, HEADER_ONLY, INVALID, HeaderEntry, Store, encode_undo
from .tx import Transaction, make_coinbase
from .validation import (
    address_rows,
    apply_block,
    block_addresses,
    check_block_context_free,
    check_header_context,
    check_header_context_free,
)

# Header entries kept in memory (about 0.8 KB each): a sync looks up recent ones (the
# parent, the median-time window, the retarget ancestor), and 50,000 of them were
# 40 MB of a 100,000-block sync's peak.
HEADER_CACHE = 20_000
# Median-time windows by block hash: a sync of headers finds each parent's here.
TIMES_CACHE = 4_096
# Headers just above the tip considered for body download besides the best chain.
NEXT_BLOCKS = 16
# How many of the lightest header-only headers above the tip are looked through for
# those: more than an attacker can crowd with headers of real work at the tip's
# difficulty, and few enough that a sync's round does not read all it has ahead.
FETCHABLE_SCAN = 256
# Download paths kept: the most-work header's and one peer's best, the same chain
# while catching up (each up to a whole bodiless chain long: 8 of them held 40 MB).
PATH_CACHE = 2


@dataclass
class ImportResult:
    """What importing one block did. `connected`/`disconnected` list every block that
    joined or left the active chain as a consequence (orphans included)."""

    hash: bytes
    # connected | side-branch | orphan | duplicate | invalid | ignored (an unrequested
    # block that could not become the tip: not stored, see _process_one)
    status: str
    error: ValidationError | None = None
    connected: list[Block] = field(default_factory=list)
    disconnected: list[Block] = field(default_factory=list)
    rejected: list[tuple[bytes, ValidationError]] = field(default_factory=list)
    mempool_added: list[bytes] = field(default_factory=list)
    mempool_removed: list[bytes] = field(default_factory=list)
    # Transactions of disconnected blocks the new chain refuses (a double spend's loser).
    mempool_refused: list[tuple[bytes, ValidationError]] = field(default_factory=list)

    @property
    def reorg(self) -> bool:
        return bool(self.disconnected)


@dataclass
class HeadersResult:
    accepted: list[HeaderEntry] = field(default_factory=list)
    known: int = 0
    error: ValidationError | None = None


class _BadBlock(Exception):
    def __init__(self, entry: HeaderEntry, error: ValidationError) -> None:
        self.entry = entry
        self.error = error


class ChainState:
    def __init__(self, store: Store, params: NetworkParams, sigcache: SigCache | None = None,
                 mempool: Mempool | None = None) -> None:
        self.store = store
        self.params = params
        self.sigcache = sigcache if sigcache is not None else SigCache()
        # `is not None`, not `or`: an empty Mempool is falsy (it has __len__).
        self.mempool = mempool if mempool is not None else Mempool(params)
        self._cache: OrderedDict[bytes, HeaderEntry] = OrderedDict()
        self._paths: OrderedDict[bytes, list[bytes]] = OrderedDict()  # see _bodyless_path
        self._times: dict[bytes, tuple[int, ...]] = {}  # see previous_times
        self.orphans = OrphanPool()  # the Ledger sets its node policy's bounds
        # Set when a batch failed after changing the state in memory: `reload` first.
        self.needs_reload = False
        self._init_genesis()
        tip_hash = store.tip_hash()
        assert tip_hash is not None
        tip = self.entry(tip_hash)
        assert tip is not None
        self.tip: HeaderEntry = tip
        # The persisted mempool was valid at the stored tip: load it before any switch
        # below, so the switch treats it exactly as a live reorg does.
        self._load_mempool()
        # A stop between storing blocks and switching to them (separate SQL transactions)
        # leaves stored blocks with more work than the tip: switch now. `opened` says what
        # that did (blocks, transactions returned to the mempool) for the owner to report.
        self.opened: ImportResult = self.activate_stored()

    def reload(self) -> ImportResult:
        """Read the tip and the mempool again from the store, after a reconnect that may
        have hidden a commit (its answer lost with the connection), then finish any
        switch left undone, as on open."""
        self._cache.clear()
        self.needs_reload = False
        tip_hash = self.store.tip_hash()
        tip = self.entry(tip_hash) if tip_hash is not None else None
        assert tip is not None, "a stored chain always has a tip"
        self.tip = tip
        self.mempool = Mempool(self.params, self.mempool.policy)
        self._load_mempool()
        return self.activate_stored()

    # ---- header index -------------------------------------------------
    def _init_genesis(self) -> None:
        genesis = genesis_block(self.params)
        network = self.store.get_meta("network")
        if network is not None and network.decode() != self.params.name:
            raise ValidationError(
                f"this data directory holds a {network.decode()!r} chain, not {self.params.name!r}",
                Code.WRONG_NETWORK,
            )
        if self.store.tip_hash() is not None:
            if self.store.chain_hash(0) != genesis.hash:
                raise ValidationError("stored chain has a different genesis block",
                                      Code.BAD_GENESIS)
            return
        entry = HeaderEntry(genesis.hash, bytes(32), 0, work_from_bits(genesis.header.bits),
                            genesis.header, HAVE_DATA)
        delta = apply_block(genesis, 0, self.params, self.store, self.store.account_exists)
        with self.store.transaction():
            self.store.set_meta("network", self.params.name.encode())
            self.store.put_header(entry)
            self.store.put_block(genesis.hash, genesis.encoded)
            self._connect_rows(entry, genesis, delta.new, delta.old)

    def entry(self, block_hash: bytes) -> HeaderEntry | None:
        e = self._cache.get(block_hash)
        if e is not None:
            self._cache.move_to_end(block_hash)
            return e
        e = self.store.get_header(block_hash)
        if e is not None:
            self._remember(e)
        return e

    def _remember(self, e: HeaderEntry) -> None:
        self._cache[e.hash] = e
        if len(self._cache) > HEADER_CACHE:
            self._cache.popitem(last=False)

    def _set_status(self, e: HeaderEntry, status: int) -> HeaderEntry:
        self.store.set_status(e.hash, status)
        e = HeaderEntry(e.hash, e.prev, e.height, e.chainwork, e.header, status)
        self._remember(e)
        return e

    def on_active_chain(self, e: HeaderEntry) -> bool:
        return e.height <= self.tip.height and self.store.chain_hash(e.height) == e.hash

    def ancestor(self, e: HeaderEntry, height: int) -> HeaderEntry:
        while e.height > height:
            if self.on_active_chain(e):
                h = self.store.chain_hash(height)
                assert h is not None
                found = self.entry(h)
                assert found is not None
                return found
            parent = self.entry(e.prev)
            assert parent is not None
            e = parent
        return e

    def previous_times(self, parent: HeaderEntry) -> tuple[int, ...]:
        """The times of `parent` and the blocks before it, newest first: the median-time
        window (fewer near genesis). A header's window is its own time before its
        parent's, so along a chain each costs one step, not a walk of the window."""
        times = self._times.get(parent.hash)
        if times is not None:
            return times
        window = self.params.mtp_window
        before = self._times.get(parent.prev) if parent.height > 0 else ()
        if before is not None:
            times = ((parent.header.time,) + before)[:window]
        else:
            walked = [parent.header.time]
            e = parent
            while len(walked) < window and e.height > 0:
                prev = self.entry(e.prev)
                assert prev is not None
                walked.append(prev.header.time)
                e = prev
            times = tuple(walked)
        self._times[parent.hash] = times
        if len(self._times) > TIMES_CACHE:
            del self._times[next(iter(self._times))]  # the oldest: dicts keep insertion order
        return times

    def expected_bits(self, parent: HeaderEntry) -> int:
        height = parent.height + 1
        if not is_retarget_height(self.params, height):
            return parent.header.bits
        first = self.ancestor(parent, height - self.params.retarget_interval)
        if first.height == 0 and not self.params.retarget_from_genesis:
            # The genesis time is not a time the network mined at: measure from block 1.
            if parent.height < 2:  # no interval mined yet to measure
                return parent.header.bits
            first = self.ancestor(parent, 1)
        return retarget(self.params.pow_limit_bits, self.params.target_timespan,
                        parent.header.bits, first.header.time, parent.header.time)

    def _check_header(self, header: BlockHeader, now: int) -> tuple[HeaderEntry, int]:
        """Validate a header against its parent; return (parent, chainwork)."""
        parent = self.entry(header.prev_hash)
        if parent is None:
            raise ValidationError("parent block is unknown", Code.ORPHAN, field="prev",
                                  value=header.prev_hash[::-1].hex(), expected="a known block")
        if parent.status == INVALID:
            raise ValidationError("parent block is invalid", Code.BAD_PREVBLK, field="prev",
                                  value=header.prev_hash[::-1].hex(), expected="a valid block")
        check_header_context_free(header, self.params, now)
        check_header_context(header, self.expected_bits(parent), self.previous_times(parent))
        return parent, parent.chainwork + work_from_bits(header.bits)

    def process_headers(self, headers: list[BlockHeader], now: int | None = None,
                        work_blocks: int | None = None) -> HeadersResult:
        """Store valid headers (proof of work checked) so their bodies can be fetched.

        With `work_blocks` (node policy, given by the Ledger for a peer's headers), a
        batch is kept only if its chain reaches `header_work_threshold(work_blocks)`."""
        now = int(time.time()) if now is None else now
        result = HeadersResult()
        new: list[HeaderEntry] = []
        fresh: set[bytes] = set()
        try:
            for header in headers:
                # A header is stored only after its parent, so the child of a header new
                # in this batch is not in the store either: no lookup for it (a sync's
                # batches are all such children).
                known = (self._cache.get(header.hash) if header.prev_hash in fresh
                         else self.entry(header.hash))
                if known is not None:
                    if known.status == INVALID:
                        raise ValidationError("header of a known-invalid block", Code.KNOWN_INVALID)
                    result.known += 1
                    continue
                parent, work = self._check_header(header, now)
                e = HeaderEntry(header.hash, parent.hash, parent.height + 1, work, header,
                                HEADER_ONLY)
                self._remember(e)  # later headers of the batch find their parent here
                new.append(e)
                fresh.add(e.hash)
        except ValidationError as exc:
            result.error = exc
        if (new and work_blocks is not None
                and max(e.chainwork for e in new) < self.header_work_threshold(work_blocks)):
            # Cheap headers forking deep below the tip: keep nothing, so storing them
            # costs an attacker as much work as the chain it would have to beat.
            for e in new:
                self._cache.pop(e.hash, None)
            result.error = ValidationError("headers carry too little work to be kept",
                                           Code.LOW_WORK_HEADERS)
            new = []
        if new:
            try:
                with self.store.transaction():
                    self.store.put_headers(new)
            except BaseException:
                # Not stored (the disk is full...): the cache must not claim otherwise.
                for e in new:
                    self._cache.pop(e.hash, None)
                raise
        result.accepted = new
        return result

    def header_work_threshold(self, blocks: int) -> int:
        """The chainwork a header chain must reach to be stored: within `blocks` blocks
        at the tip's difficulty of the tip's own work (Bitcoin Core's anti-DoS work
        threshold, without its headers presync)."""
        allowance = blocks * work_from_bits(self.tip.header.bits)
        return max(0, self.tip.chainwork - allowance)

    # ---- blocks --------------------------------------------------------
    def process_block(self, block: Block, now: int | None = None, *, requested: bool = True,
                      source: str | None = None) -> ImportResult:
        """Import one block. `requested` is False for a block a peer pushed without our
        asking: it is stored only if it could become the tip. `source` (a peer id)
        charges an orphan to that peer's share of the orphan pool."""
        now = int(time.time()) if now is None else now
        result = self._process_one(block, now, requested, source)
        if result.status in ("connected", "side-branch"):
            self._connect_orphans(block.hash, now, result)
        if result.connected or result.disconnected:
            self._update_mempool(result)
        return result

    def process_blocks(self, blocks: Sequence[tuple[Block, bool, str | None]],
                       now: int | None = None, budget: float | None = None,
                       ) -> list[tuple[ImportResult, HeaderEntry]]:
        """Import (block, requested, source) in order in one SQL transaction, as
        `process_block` one by one would, with the tip after each. With `budget`
        (seconds) it stops after the block that exhausts it: the results are for that
        prefix. A kill loses the whole batch (fetched again); a failed write leaves
        `needs_reload` set, since the state in memory then ran ahead of the store."""
        out: list[tuple[ImportResult, HeaderEntry]] = []
        now = int(time.time()) if now is None else now
        deadline = None if budget is None else time.monotonic() + budget
        try:
            with self.store.transaction():
                while len(out) < len(blocks):
                    if not self._connect_run(blocks[len(out):], now, deadline, out):
                        block, requested, source = blocks[len(out)]
                        res = self.process_block(block, now, requested=requested,
                                                 source=source)
                        out.append((res, self.tip))
                    if deadline is not None and time.monotonic() >= deadline:
                        break
        except BaseException:
            self.needs_reload = True
            raise
        return out

    def _connect_run(self, blocks: Sequence[tuple[Block, bool, str | None]], now: int,
                     deadline: float | None,
                     out: list[tuple[ImportResult, HeaderEntry]]) -> int:
        """Connect the longest prefix of `blocks` that plainly extends the tip, written
        together (see blockrun); append each one's result to `out` and return how many.
        It stops before the first block that is anything else (known, an orphan's
        parent, off the tip, or failing a check), left to `process_block`."""
        run = BlockRun(self.store, self.tip)
        for block, _, _ in blocks:
            h = block.hash
            known = self.entry(h)
            if (block.header.prev_hash != run.tip.hash or h in self.orphans
                    or (known is not None and known.status != HEADER_ONLY)
                    or self.orphans.children(h)):
                break
            try:
                check_block_context_free(block, self.params, now, self.sigcache.verify_tx)
                entry = self._bodied_entry(block, known, now)
                run.add(block, entry, self.params, stored=known is not None)
            except ValidationError:
                break
            self._remember(entry)  # the next block's header check finds its parent here
            if deadline is not None and time.monotonic() >= deadline:
                break
        if not run:
            return 0
        self.store.connect_run(run.rows)
        self.tip = run.tip
        results = [ImportResult(b.hash, "connected", connected=[b]) for b in run.blocks]
        out.extend(zip(results, run.rows.headers, strict=True))
        last = results[-1]
        # What one-by-one imports would have done after each block, once for the run:
        # a stored branch with more work still wins, and the mempool loses what the
        # run confirmed.
        self._activate_best(last)
        out[-1] = (last, self.tip)
        summary = ImportResult(last.hash, "connected",
                               connected=[b for r in results for b in r.connected],
                               disconnected=last.disconnected)
        self._update_mempool(summary)
        last.mempool_added, last.mempool_removed = summary.mempool_added, summary.mempool_removed
        last.mempool_refused = summary.mempool_refused
        return len(results)

    def _bodied_entry(self, block: Block, known: HeaderEntry | None, now: int) -> HeaderEntry:
        """The block's index entry with its body: its stored header's (checked when it
        came), or its header checked against its parent now."""
        if known is not None:
            return HeaderEntry(known.hash, known.prev, known.height, known.chainwork,
                               known.header, HAVE_DATA)
        parent, work = self._check_header(block.header, now)
        return HeaderEntry(block.hash, parent.hash, parent.height + 1, work, block.header,
                           HAVE_DATA)

    def _process_one(self, block: Block, now: int, requested: bool = True,
                     source: str | None = None) -> ImportResult:
        h = block.hash
        known = self.entry(h)
        if known is not None and known.status == INVALID:
            return ImportResult(h, "invalid", ValidationError("block is known to be invalid",
                                                              Code.KNOWN_INVALID))
        if known is not None and known.status == HAVE_DATA or h in self.orphans:
            return ImportResult(h, "duplicate")
        try:
            check_block_context_free(block, self.params, now, self.sigcache.verify_tx)
            parent = self.entry(block.header.prev_hash)
            if parent is None or parent.status == HEADER_ONLY:
                self.orphans.add(block, source, requested)
                return ImportResult(h, "orphan")
            entry = self._bodied_entry(block, known, now)
        except ValidationError as exc:
            return ImportResult(h, "invalid", exc)
        if not requested and entry.chainwork < self.tip.chainwork:
            # Bitcoin Core's AcceptBlock rule: a block nobody asked for is kept only if
            # it has at least the tip's work, so less-work side blocks cost no disk.
            return ImportResult(h, "ignored")
        with self.store.transaction():
            self.store.put_header(entry)
            self.store.put_block(h, block.encoded)
        self._remember(entry)
        result = ImportResult(h, "side-branch")
        self._activate_best(result, entry, block)
        if any(b.hash == h for b in result.connected):
            result.status = "connected"
        for bad, err in result.rejected:
            if bad == h:
                result.status, result.error = "invalid", err
        return result

    def _connect_orphans(self, parent_hash: bytes, now: int, result: ImportResult) -> None:
        queue = [parent_hash]
        while queue:
            parent = queue.pop()
            for orphan in self.orphans.children(parent):
                child = orphan.block
                self.orphans.pop(child.hash)
                sub = self._process_one(child, now, orphan.requested, orphan.source)
                result.connected += sub.connected
                result.disconnected += sub.disconnected
                result.rejected += sub.rejected
                # A child that failed on connect is already in sub.rejected.
                if sub.error is not None and all(h != child.hash for h, _ in sub.rejected):
                    result.rejected.append((child.hash, sub.error))
                if sub.status in ("connected", "side-branch"):
                    queue.append(child.hash)

    def _load_block(self, block_hash: bytes) -> Block:
        data = self.store.get_block_data(block_hash)
        if data is None:
            raise RuntimeError("block data missing for a stored header")
        return Block.decode(data)

    def _fork_path(self, target: HeaderEntry) -> tuple[list[HeaderEntry], list[HeaderEntry]]:
        """(active blocks to disconnect, tip first; branch blocks to connect, oldest first)."""
        down: list[HeaderEntry] = []
        up: list[HeaderEntry] = []
        a, b = self.tip, target
        while a.hash != b.hash:
            if a.height >= b.height:
                down.append(a)
                nxt = self.entry(a.prev)
                assert nxt is not None
                a = nxt
            else:
                up.append(b)
                nxt = self.entry(b.prev)
                assert nxt is not None
                b = nxt
        up.reverse()
        return down, up

    def _activate_best(self, result: ImportResult, new: HeaderEntry | None = None,
                       new_block: Block | None = None) -> None:
        while True:
            if new is not None and new.prev == self.tip.hash:
                candidate: HeaderEntry | None = new  # plain extension: skip the index query
            else:
                candidate = self.store.best_with_data()
            new = None
            if candidate is None or candidate.chainwork <= self.tip.chainwork:
                return
            down, up = self._fork_path(candidate)
            try:
                left, joined = self._switch(down, up, new_block)
            except _BadBlock as bad:
                self._mark_invalid(bad.entry)
                result.rejected.append((bad.entry.hash, bad.error))
                continue
            result.disconnected += left
            result.connected += joined

    def _switch(self, down: list[HeaderEntry], up: list[HeaderEntry],
                known_block: Block | None) -> tuple[list[Block], list[Block]]:
        """Disconnect `down`, connect `up`, all in one SQL transaction.

        The disconnected blocks' payments go into the stored mempool in the same
        transaction, so a kill before the mempool is brought up to date loses none:
        the next open re-admits them and drops what no longer fits.
        """
        left: list[Block] = []
        joined: list[Block] = []
        now = time.time()
        with self.store.transaction():
            for e in down:
                block = self._load_block(e.hash)
                self.store.disconnect(e, block.txids, block_addresses(block))
                for tx in block.txs[1:]:
                    self.store.mempool_put(tx.txid, tx.encoded, now)
                left.append(block)
            for e in up:
                if known_block is not None and known_block.hash == e.hash:
                    block = known_block
                else:
                    block = self._load_block(e.hash)
                state = RunState(self.store)  # this block's accounts in one read
                state.prefetch_block(block)
                try:
                    delta = apply_block(block, e.height, self.params, state, state.exists)
                except ValidationError as exc:
                    raise _BadBlock(e, exc) from None
                self._connect_rows(e, block, delta.new, delta.old)
                self.store.mempool_delete(block.txids[1:])
                joined.append(block)
        self.tip = up[-1] if up else self.entry(down[-1].prev) or self.tip
        return left, joined

    def _connect_rows(self, e: HeaderEntry, block: Block,
                      new: dict[bytes, tuple[int, int]],
                      old: dict[bytes, tuple[int, int] | None]) -> None:
        self.store.connect(e, new, encode_undo(old),
                           ((txid, pos) for pos, txid in enumerate(block.txids)),
                           address_rows(block))

    def _mark_invalid(self, bad: HeaderEntry) -> None:
        with self.store.transaction():
            todo = [bad.hash]
            while todo:
                h = todo.pop()
                e = self.entry(h)
                if e is not None:
                    self._set_status(e, INVALID)
                todo += self.store.children(h)

    def activate_stored(self) -> ImportResult:
        """Switch to the stored chain with the most work if it beats the tip, with the
        mempool updated as in a live import. Finishes what a stop or a failed write
        left between storing blocks and connecting them; a no-op otherwise."""
        result = ImportResult(self.tip.hash, "side-branch")
        self._activate_best(result)
        if result.connected or result.disconnected:
            self._update_mempool(result)
        return result

    # ---- mempool ---------------------------------------------------------
    def _update_mempool(self, result: ImportResult) -> None:
        if not result.disconnected:
            # The chain only grew: what it confirmed leaves, and what it left unable to
            # pay; nothing comes back. No copy of the whole pool (30,000 pending: 8 ms).
            entries = self.mempool.entries
            paid = [t for b in result.connected for t in b.txs[1:]]
            mined = [t.txid for t in paid if t.txid in entries]
            # A sender whose confirmed payments were all pending here had the first of
            # its pending chain confirmed (one payment a nonce), the same debits the rest
            # was checked against: only senders of payments the pool did not hold are
            # checked again (a synced block re-walked every sender's whole chain).
            spoiled = {t.sender_address for t in paid if t.txid not in entries}
            self.mempool.remove(mined)
            dropped = (self.mempool.revalidate(self.store, spoiled)
                       if spoiled and self.mempool.by_sender else [])
            result.mempool_removed = mined + dropped
            result.mempool_added = []
            self._persist_mempool([], result.mempool_removed)
            return
        before = dict(self.mempool.entries)
        self.mempool.remove([t for b in result.connected for t in b.txids[1:]])
        dropped = self.mempool.revalidate(self.store, self._changed_senders(result))
        now = time.time()
        # Disconnected blocks were listed tip first; replay oldest first for nonce order.
        confirmed = {t for b in result.connected for t in b.txids[1:]}
        for block in reversed(result.disconnected):
            for tx in block.txs[1:]:
                try:
                    self.mempool.add(tx, self.store, self.sigcache.verify_tx, now)
                except ValidationError as exc:
                    if tx.txid not in confirmed:  # not merely mined again on the new chain
                        result.mempool_refused.append((tx.txid, exc))
        # A pending tx whose predecessor was in a disconnected block was dropped by
        # revalidate (its nonce no longer followed on); now the predecessor is back.
        if result.disconnected:
            for entry in sorted((before[t] for t in dropped), key=lambda e: e.tx.nonce):
                try:
                    self.mempool.add(entry.tx, self.store, self.sigcache.verify_tx, entry.added)
                except ValidationError:
                    pass
        after = set(self.mempool.entries)
        result.mempool_removed = list(before.keys() - after)
        result.mempool_added = list(after - before.keys())
        self._persist_mempool(result.mempool_added, result.mempool_removed)

    def _changed_senders(self, result: ImportResult) -> set[bytes]:
        """Pending senders whose account the switch may have left unable to pay: the
        senders of connected blocks (debited, nonces used; a credit never spoils a
        pending payment) and every account of disconnected ones (credits taken back)."""
        pending = self.mempool.by_sender
        if not pending:  # a sync's usual case: no need to look at its blocks
            return set()
        changed = {tx.sender_address for b in result.connected for tx in b.txs[1:]}
        for block in result.disconnected:
            changed |= block_addresses(block)
        return changed

    def _persist_mempool(self, added: list[bytes], removed: list[bytes]) -> None:
        if not added and not removed:
            return
        with self.store.transaction():
            if removed:
                self.store.mempool_delete(removed)
            entries = self.mempool.entries
            self.store.mempool_put_many([(txid, entries[txid].tx.encoded, entries[txid].added)
                                         for txid in added])

    def add_tx(self, tx: Transaction, now: float | None = None) -> list[bytes]:
        """Admit a tx to the mempool; return txids that left it (replaced or evicted)."""
        res = self.admit_tx(tx, now)
        return res.replaced + res.evicted

    def admit_tx(self, tx: Transaction, now: float | None = None) -> AddResult:
        """add_tx, telling replaced and evicted transactions apart."""
        res = self.admit_txs([tx], now)[0]
        if isinstance(res, ValidationError):
            raise res
        return res

    def admit_txs(self, txs: list[Transaction],
                  now: float | None = None) -> list[AddResult | ValidationError]:
        """Admit each of ``txs`` in order as admit_tx would, each its own outcome, and
        store what all of them changed in one SQL transaction: a commit per
        transaction cost about as much as the admission itself."""
        outcomes: list[AddResult | ValidationError] = []
        added: dict[bytes, None] = {}  # in admission order
        removed: set[bytes] = set()
        # Only the mempool changes during the batch, never the accounts: read each once.
        accounts = RunState(self.store)
        accounts.prefetch(tx.sender_address for tx in txs)
        for tx in txs:
            try:
                res = self.mempool.add(tx, accounts, self.sigcache.verify_tx,
                                       time.time() if now is None else now)
            except ValidationError as exc:
                outcomes.append(exc)
                continue
            outcomes.append(res)
            added[tx.txid] = None
            removed.discard(tx.txid)
            for gone in res.replaced + res.evicted:
                if gone in added:  # came and went within this batch: never stored
                    del added[gone]
                else:
                    removed.add(gone)
        if added or removed:
            self._persist_mempool(list(added), list(removed))
        return outcomes

    def _load_mempool(self) -> int:
        """Re-admit persisted txs against the stored tip; drop what no longer fits."""
        rows: list[tuple[Transaction, float]] = []
        for raw, added in self.store.mempool_all():
            try:
                rows.append((Transaction.decode(raw), added))
            except DecodeError:
                continue
        # Nonce order, not arrival order: a replacement of nonce n may have come
        # after the sender's nonce n+1, which could not be re-admitted before it.
        rows.sort(key=lambda row: (row[0].nonce, row[1]))
        stale: list[bytes] = []
        for tx, added in rows:
            try:
                self.mempool.add(tx, self.store, self.sigcache.verify_tx, added)
            except ValidationError:
                stale.append(tx.txid)
        if stale:
            with self.store.transaction():
                self.store.mempool_delete(stale)
        return len(self.mempool)

    # ---- mining and sync helpers -------------------------------------------
    def block_template(self, coinbase_to: bytes, now: int | None = None,
                       memo: bytes = b"") -> Block:
        now = int(time.time()) if now is None else now
        tip = self.tip
        height = tip.height + 1
        mtp = median_time_past(self.previous_times(tip))
        coinbase_size = 145 + len(memo)
        txs = self.mempool.template(self.params.max_block_size - 80 - 4 - coinbase_size)
        fees = sum(tx.fee for tx in txs)
        coinbase = make_coinbase(self.params.network_id, coinbase_to,
                                 self.params.subsidy(height) + fees, height, memo)
        all_txs = (coinbase, *txs)
        header = BlockHeader(1, tip.hash, merkle_root([t.txid for t in all_txs]),
                             max(now, mtp + 1), self.expected_bits(tip), 0)
        return Block(header, all_txs)

    def locator(self) -> list[bytes]:
        """The active chain back to genesis, ever sparser, led by the most-work header
        when the headers run ahead of the blocks (a sync): a peer answers a getheaders
        with the headers after the first hash it has on its own chain, and from the tip
        that was every header the sync already held again, 2,000 a message (Bitcoin
        Core's locator starts from its best header too)."""
        hashes: list[bytes] = []
        best = self.store.best_header()
        if best is not None and best.chainwork > self.tip.chainwork:
            hashes.append(best.hash)
        height = self.tip.height
        step = 1
        while height > 0:
            h = self.store.chain_hash(height)
            assert h is not None
            hashes.append(h)
            if len(hashes) >= 10:
                step *= 2
            height -= step
        g = self.store.chain_hash(0)
        assert g is not None
        hashes.append(g)
        return hashes

    def _bodyless_path(self, target: HeaderEntry) -> list[bytes]:
        """The headers without a body from above the last block with one up to `target`,
        oldest first (empty if that chain rests on an invalid block; an entry may have
        turned invalid since: the caller checks).

        Kept per target and trimmed from the front as bodies arrive: walked afresh on
        every call, a sync of n blocks cost n steps a window, O(n^2) in all. A new
        target that extends a kept one (the next batch of a sync's headers) walks down
        only to it: walked to the bodies each time, a sync of n headers cost n steps a
        batch, and a million-block sync read the headers from disk for minutes."""
        path = self._paths.get(target.hash)
        if path is not None:
            self._paths.move_to_end(target.hash)
            return self._trimmed(path)
        found: list[bytes] = []
        e: HeaderEntry | None = target
        while e is not None and e.status == HEADER_ONLY:
            below = self._paths.get(e.hash) if found else None
            if below is not None:
                # An empty path to a header-only block: it rests on an invalid one.
                found = self._trimmed(below) + found[::-1] if below else []
                break
            found.append(e.hash)
            e = self.entry(e.prev)
        else:
            if e is None or e.status != HAVE_DATA:  # on top of an invalid block
                found = []
            found.reverse()
        self._paths[target.hash] = found
        if len(self._paths) > PATH_CACHE:
            self._paths.popitem(last=False)
        return found

    def _trimmed(self, path: list[bytes]) -> list[bytes]:
        """`path` without the blocks at its front whose bodies have come since."""
        start = 0
        while start < len(path) and (known := self.entry(path[start])) is not None \
                and known.status == HAVE_DATA:
            start += 1
        del path[:start]  # an invalid one stays: the caller stops there
        return path

    def missing_blocks(self, limit: int, toward: bytes | None = None,
                       skip: Collection[bytes] = ()) -> list[bytes]:
        """Up to `limit` bodies to fetch (none in `skip`), lowest height first.

        Along the header chain to `toward` (a peer's best announced header) when
        given, else to the most-work header, starting above its last block with a
        body; every body listed has a parent with a body or one listed before it, so
        each can connect as soon as it and its predecessors arrive. Without `toward`,
        also the lightest headers above the tip whose parent has its body: a peer
        announcing a heavier chain and withholding its bodies must not stop honest
        blocks beside it from being fetched.
        """
        target = self.store.best_header() if toward is None else self.entry(toward)
        wanted: list[bytes] = []
        if target is not None and target.chainwork > self.tip.chainwork:
            for h in self._bodyless_path(target):
                if len(wanted) >= limit:
                    break
                e = self.entry(h)
                if e is None or e.status == INVALID:
                    break
                if e.status == HEADER_ONLY and h not in self.orphans and h not in skip:
                    wanted.append(h)
        if toward is None:
            above = self.store.fetchable_above(self.tip.chainwork, NEXT_BLOCKS + len(skip),
                                               FETCHABLE_SCAN + len(skip))
            wanted += [h for h in above
                       if h not in wanted and h not in self.orphans and h not in skip
                       ][:NEXT_BLOCKS]
        return wanted
