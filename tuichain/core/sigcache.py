"""Remember verified transactions so a block's txs seen in the mempool aren't verified twice."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from .keys import verify
from .tx import Transaction


class SigCache:
    """Bounded LRU of txids whose signatures verified.

    The txid commits to every byte including the signature, so a txid that
    verified once stays verified.
    """

    def __init__(self, capacity: int = 100_000, failed_capacity: int = 10_000) -> None:
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._capacity = capacity
        # Failures too, for the same reason: a forged signature checked ahead of
        # admission (or relayed again) must not cost a check each time it is seen.
        self._failed: OrderedDict[bytes, None] = OrderedDict()
        self._failed_capacity = failed_capacity
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def verify_tx(self, tx: Transaction) -> bool:
        txid = tx.txid
        with self._lock:
            if txid in self._seen:
                self._seen.move_to_end(txid)
                self.hits += 1
                return True
            if txid in self._failed:
                self.hits += 1
                return False
        ok = verify(tx.sender, tx.signing_digest(), tx.signature)
        with self._lock:
            self.misses += 1
            known, bound = ((self._seen, self._capacity) if ok
                            else (self._failed, self._failed_capacity))
            known[txid] = None
            if len(known) > bound:
                known.popitem(last=False)
        return ok

    def unchecked(self, txs: Iterable[Transaction]) -> list[Transaction]:
        """Those of `txs` whose signature was never checked, found under one lock (a
        block's thousand transactions are one acquisition, not a thousand contended
        ones beside the verify threads)."""
        with self._lock:
            seen, failed = self._seen, self._failed
            return [tx for tx in txs if tx.txid not in seen and tx.txid not in failed]

    def check_all(self, txs: Sequence[Transaction]) -> None:
        """Check `txs`' signatures and remember each outcome, recorded under one lock."""
        self.record([(tx.txid, verify(tx.sender, tx.signing_digest(), tx.signature))
                     for tx in txs])

    def record(self, outcomes: Sequence[tuple[bytes, bool]]) -> None:
        """Remember outcomes checked elsewhere (by a worker process), under one lock."""
        with self._lock:
            self.misses += len(outcomes)
            for txid, ok in outcomes:
                known, bound = ((self._seen, self._capacity) if ok
                                else (self._failed, self._failed_capacity))
                known[txid] = None
                if len(known) > bound:
                    known.popitem(last=False)

    def __contains__(self, txid: bytes) -> bool:
        with self._lock:
            return txid in self._seen
