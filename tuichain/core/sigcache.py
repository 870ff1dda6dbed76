"""Remember verified transactions so a block's txs seen in the mempool aren't verified twice."""

from __future__ import annotations

import threading
from collections import OrderedDict

from .keys import verify
from .tx import Transaction


class SigCache:
    """Bounded LRU of txids whose signatures verified.

    The txid commits to every byte including the signature, so a txid that
    verified once stays verified.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._capacity = capacity
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
        ok = verify(tx.sender, tx.signing_digest(), tx.signature)
        with self._lock:
            self.misses += 1
            if ok:
                self._seen[txid] = None
                if len(self._seen) > self._capacity:
                    self._seen.popitem(last=False)
        return ok

    def __contains__(self, txid: bytes) -> bool:
        with self._lock:
            return txid in self._seen
