"""What happened to each transaction this node met, with times: its life, as a timeline.

Fed on the event loop from the ledger's events and hooks (accepted, refused,
included, confirmed, disconnected, replaced, evicted, dropped) and from the
network (received from a peer, announced to peers, seen by peers). Memory is
bounded: the least recently touched timelines go first. The timelines of the
wallet's own transactions are also written to a small SQLite file in the data
directory, on a thread of their own, so they survive a restart.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .events import TxAccepted, TxRejected
from .rejectlog import explain

if TYPE_CHECKING:
    from .chainstate import ImportResult
    from .tx import Transaction

log = logging.getLogger(__name__)

LIFE_FILE = "txlife.sqlite3"
MAX_TXS = 5000
MAX_EVENTS = 64
# Confirmations after the first are worth a line each until the transaction is safe.
CONFIRMATION_EVENTS = 6
# Imports remembered for the time a quiet payment reached its count (older: the oldest's).
TIPS_KEPT = 1024

SOURCES = {"wallet": "signed here", "rest": "submitted over REST", "miner": "from the miner"}


# Slots: a node tracks up to MAX_TXS timelines of many events, and each object without
# a __dict__ is one object less for every garbage collection to walk (on the loop).
@dataclass(frozen=True, slots=True)
class LifeEvent:
    time: float
    kind: str
    text: str
    height: int | None = None
    block: str | None = None  # display hex
    peer: str | None = None
    code: str | None = None
    other: str | None = None  # the replacing txid, display hex

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Timeline:
    txid: bytes
    events: list[LifeEvent] = field(default_factory=list)
    own: bool = False
    seen_by: set[str] = field(default_factory=set)
    announced: int = 0
    height: int | None = None  # the block that holds it on the active chain
    confirmations_noted: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "txid": self.txid[::-1].hex(),
            "own": self.own,
            "height": self.height,
            "announced_to": self.announced,
            "seen_by": len(self.seen_by),
            "events": [e.as_json() for e in self.events],
        }


class LifeStore:
    """The own transactions' timelines on disk; every call runs on its one thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="txlife")
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.path)
            self._db.execute("CREATE TABLE IF NOT EXISTS life (txid BLOB PRIMARY KEY, "
                             "updated REAL NOT NULL, data TEXT NOT NULL)")
        return self._db

    def load(self, limit: int) -> list[Timeline]:
        """Blocks until read: call it off the event loop."""
        return self._pool.submit(self._load, limit).result()

    def _load(self, limit: int) -> list[Timeline]:
        rows = self._conn().execute(
            "SELECT txid, data FROM life ORDER BY updated DESC LIMIT ?", (limit,)).fetchall()
        out = []
        for txid, data in reversed(rows):
            try:
                out.append(_timeline_from_json(bytes(txid), json.loads(data)))
            except (ValueError, TypeError, KeyError):
                log.warning("skipped a damaged transaction life in %s", self.path)
        return out

    def _save(self, txid: bytes, data: str) -> None:
        db = self._conn()
        with db:
            db.execute("INSERT OR REPLACE INTO life VALUES (?, ?, ?)", (txid, time.time(), data))

    def save(self, line: Timeline) -> None:
        data = json.dumps({**line.as_json(), "seen_peers": sorted(line.seen_by),
                           "confirmations_noted": line.confirmations_noted})
        future = self._pool.submit(self._save, line.txid, data)
        future.add_done_callback(_log_failure)

    def close(self) -> None:
        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        self._pool.submit(shut)
        self._pool.shutdown(wait=True)


def _log_failure(future: Any) -> None:
    if future.exception() is not None:
        log.error("could not save a transaction's life", exc_info=future.exception())


def _timeline_from_json(txid: bytes, data: dict[str, Any]) -> Timeline:
    return Timeline(
        txid, [LifeEvent(**e) for e in data["events"]], True, set(data.get("seen_peers", [])),
        int(data.get("announced_to", 0)), data.get("height"),
        int(data.get("confirmations_noted", 0)),
    )


def _hex(h: bytes) -> str:
    return h[::-1].hex()


class TxLife:
    """Not thread-safe: everything runs on the event loop (the store has its own thread)."""

    def __init__(self, *, peer_label: Callable[[str], str] | None = None,
                 own: Callable[[bytes, bytes], bool] | None = None,
                 store: LifeStore | None = None, max_txs: int = MAX_TXS,
                 clock: Callable[[], float] = time.time) -> None:
        self._lines: OrderedDict[bytes, Timeline] = OrderedDict()
        self._peer_label = peer_label or (lambda p: p)
        self._own = own or (lambda sender, recipient: False)
        self._store = store
        self._max = max_txs
        self._clock = clock
        # Included on the active chain and still short of CONFIRMATION_EVENTS.
        self._confirming: set[bytes] = set()
        # Payments first met in a block (a sync's thousands): (height, block, time) until
        # read. A tuple of plain values is no object for the collector to walk; a
        # timeline was five, and full collections on the loop grew by 30 ms a sync.
        self._quiet: OrderedDict[bytes, tuple[int, str, float]] = OrderedDict()
        # (tip height, time) of recent imports: when a quiet payment's count was reached.
        self._tips: deque[tuple[int, float]] = deque(maxlen=TIPS_KEPT)
        self.version = 0
        if store is not None:
            for line in store.load(max_txs):
                self._lines[line.txid] = line
                if line.height is not None and line.confirmations_noted < CONFIRMATION_EVENTS:
                    self._confirming.add(line.txid)

    # ---- reading --------------------------------------------------------------------
    def get(self, txid: bytes) -> Timeline | None:
        if txid in self._quiet:
            return self._told(txid)
        return self._lines.get(txid)

    def __len__(self) -> int:
        return len(self._lines) + len(self._quiet)

    # ---- recording -----------------------------------------------------------------------
    def _line(self, txid: bytes, create: bool = True) -> Timeline | None:
        if txid in self._quiet:
            return self._told(txid)
        line = self._lines.get(txid)
        if line is None:
            if not create:
                return None
            line = self._keep(Timeline(txid))
        else:
            self._lines.move_to_end(txid)
        return line

    def _told(self, txid: bytes) -> Timeline:
        """A quiet payment's life as a timeline of its own from now on: its inclusion,
        and the confirmations it has reached as one line, at the time it reached them."""
        height, block, included = self._quiet.pop(txid)
        line = Timeline(txid, [LifeEvent(included, "included", f"included in block {height}",
                                         height=height, block=block)], height=height)
        tip = self._tips[-1][0] if self._tips else height
        confirmations = min(tip - height + 1, CONFIRMATION_EVENTS)
        line.confirmations_noted = max(confirmations, 1)
        if confirmations > 1:
            reached = height + confirmations - 1
            when = next((t for h, t in self._tips if h >= reached), self._tips[-1][1])
            line.events.append(LifeEvent(when, "confirmed", f"{confirmations} confirmations "
                                         f"(tip {reached})", height=height))
        if line.confirmations_noted < CONFIRMATION_EVENTS:
            self._confirming.add(txid)
        return self._keep(line)

    def _keep(self, line: Timeline) -> Timeline:
        """`line` kept as the newest, the oldest going beyond the bound."""
        self._lines[line.txid] = line
        while len(self._lines) > self._max:
            old, _ = self._lines.popitem(last=False)
            self._confirming.discard(old)
        return line

    def _add(self, line: Timeline, kind: str, text: str, *, replace_last: bool = False,
             **extra: Any) -> None:
        event = LifeEvent(self._clock(), kind, text, **extra)
        if replace_last and line.events and line.events[-1].kind == kind:
            line.events[-1] = event
        else:
            line.events.append(event)
            if len(line.events) > MAX_EVENTS:  # keep how it began and how it goes on
                del line.events[1]
        self.version += 1
        if line.own and self._store is not None:
            self._store.save(line)

    def mark_own(self, txid: bytes) -> None:
        line = self._line(txid)
        assert line is not None
        line.own = True

    def on_event(self, event: object) -> None:
        if isinstance(event, TxAccepted):
            line = self._line(event.txid)
            assert line is not None
            if self._own(event.sender, event.recipient):
                line.own = True
            source = event.source
            if source == "reorg":
                self._add(line, "returned", "back in the mempool after the reorg")
                return
            if source in SOURCES:
                self._add(line, "origin", SOURCES[source])
            elif source is not None and not any(e.kind == "received" for e in line.events):
                self._add(line, "received", f"received from peer {self._peer_label(source)}",
                          peer=self._peer_label(source))
            self._add(line, "accepted", "accepted to the mempool")
        elif isinstance(event, TxRejected):
            line = self._line(event.txid)
            assert line is not None
            source = event.source
            if source in SOURCES:
                self._add(line, "origin", SOURCES[source])
            detail = event.reason
            if event.field is not None and event.value is not None:
                detail = f"{event.field} {event.value}"
                if event.expected is not None:
                    detail += f", expected {event.expected}"
            self._add(line, "refused",
                      f"refused: {event.code}: {detail} ({explain(event.code)})",
                      code=str(event.code))

    # ---- network hooks -----------------------------------------------------------------
    def received(self, txid: bytes, peer: str) -> None:
        line = self._line(txid)
        assert line is not None
        label = self._peer_label(peer)
        self._add(line, "received", f"received from peer {label}", peer=label)

    def announced(self, txid: bytes, peers: int) -> None:
        line = self._line(txid, create=False)
        if line is None or peers == 0:
            return
        line.announced += peers
        self._add(line, "announced", f"announced to {line.announced} peer"
                  f"{'s' if line.announced != 1 else ''}", replace_last=True)

    def seen(self, txid: bytes, peer: str, ready: int) -> None:
        """A peer announced the transaction to us or asked us for it."""
        line = self._line(txid, create=False)
        if line is None or peer in line.seen_by:
            return
        line.seen_by.add(peer)
        self._add(line, "seen", f"seen by {len(line.seen_by)} of {max(ready, 1)} peers",
                  replace_last=True)

    # ---- ledger hooks ----------------------------------------------------------------
    def on_admit(self, tx: Transaction, replaced: list[bytes], evicted: list[bytes]) -> None:
        for txid in replaced:
            line = self._line(txid, create=False)
            if line is not None:
                self._add(line, "replaced", f"replaced by {_hex(tx.txid)}", other=_hex(tx.txid))
        for txid in evicted:
            line = self._line(txid, create=False)
            if line is not None:
                self._add(line, "evicted",
                          "evicted: the mempool was full and its fee rate was the lowest")

    def on_import(self, result: ImportResult, tip_height: int) -> None:
        for block in result.disconnected:
            for tx in block.txs[1:]:
                line = self._line(tx.txid, create=False)
                if line is None:
                    continue
                self._add(line, "disconnected",
                          f"disconnected by a reorg: block {line.height} left the chain",
                          height=line.height, block=_hex(block.hash))
                line.height = None
                self._confirming.discard(tx.txid)
        first = tip_height - len(result.connected) + 1
        now = self._clock()
        included: set[bytes] = set()
        quiet = self._quiet
        for i, block in enumerate(result.connected):
            height = first + i
            block_hex = _hex(block.hash)
            for tx in block.txs[1:]:
                txid = tx.txid
                own = self._own(tx.sender_address, tx.recipient)
                if not own and txid not in self._lines:
                    quiet[txid] = (height, block_hex, now)
                    quiet.move_to_end(txid)
                    included.add(txid)
                    continue
                line = self._line(txid)
                assert line is not None
                if own:
                    line.own = True
                line.height = height
                line.confirmations_noted = 1
                included.add(tx.txid)
                self._add(line, "included", f"included in block {height}",
                          height=height, block=block_hex)
                self._confirming.add(txid)
        while len(quiet) > self._max:
            quiet.popitem(last=False)
        if result.connected or result.disconnected:
            self._tips.append((tip_height, now))
            self.version += 1
        for txid in result.mempool_removed:
            if txid in included:
                continue
            line = self._line(txid, create=False)
            if line is not None and line.height is None:
                self._add(line, "dropped",
                          "dropped from the mempool: no longer valid on the new tip")
        self._note_confirmations(tip_height)

    def _note_confirmations(self, tip_height: int) -> None:
        for txid in list(self._confirming):
            line = self._lines.get(txid)
            if line is None or line.height is None:
                self._confirming.discard(txid)
                continue
            confirmations = min(tip_height - line.height + 1, CONFIRMATION_EVENTS)
            if line.confirmations_noted < confirmations:
                # One event for the count reached: blocks that came together (a sync's
                # batch) were not seen one by one, and a sync must not pay five a tx.
                line.confirmations_noted = confirmations
                self._add(line, "confirmed", f"{confirmations} confirmations "
                          f"(tip {line.height + confirmations - 1})", height=line.height)
            if line.confirmations_noted >= CONFIRMATION_EVENTS:
                self._confirming.discard(txid)
