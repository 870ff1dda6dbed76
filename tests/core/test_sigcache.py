"""The signature cache: a txid checked once, either way, is not checked again."""

from __future__ import annotations

import dataclasses

from tests.builders import key
from tuichain.core.params import REGTEST
from tuichain.core.sigcache import SigCache
from tuichain.core.tx import make_payment


def _pair() -> tuple:
    good = make_payment(key(1), REGTEST.network_id, bytes(20), 5, 1, 0)
    forged = dataclasses.replace(good, amount=6)  # same signature, other fields
    return good, forged


def test_check_all_remembers_both_outcomes_and_unchecked_skips_them() -> None:
    good, forged = _pair()
    other = make_payment(key(2), REGTEST.network_id, bytes(20), 5, 1, 0)
    cache = SigCache()
    assert cache.unchecked([good, forged, other]) == [good, forged, other]
    cache.check_all([good, forged])
    assert cache.misses == 2
    assert cache.unchecked([good, forged, other]) == [other]
    assert good.txid in cache
    assert forged.txid not in cache  # remembered as failed, not as verified
    # Later checks are hits with the outcome found the first time.
    assert cache.verify_tx(good) is True
    assert cache.verify_tx(forged) is False
    assert (cache.hits, cache.misses) == (2, 2)


def test_check_all_keeps_within_its_bounds() -> None:
    cache = SigCache(capacity=3, failed_capacity=1)
    txs = [make_payment(key(1), REGTEST.network_id, bytes(20), 5, 1, n) for n in range(5)]
    cache.check_all(txs)
    assert cache.unchecked(txs) == txs[:2]  # the oldest verified ones fell out
    good, forged = _pair()
    cache.check_all([forged, dataclasses.replace(forged, amount=7)])
    assert cache.unchecked([forged]) == [forged]
