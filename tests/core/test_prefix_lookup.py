"""The explorer's search by a hash's first hex digits, on both store backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import extend, genesis_link, import_all, key, make_block, open_chain, pay
from tuichain.core.hashing import hash_to_hex
from tuichain.core.params import REGTEST
from tuichain.core.store import prefix_range


def test_prefix_range_bounds() -> None:
    assert prefix_range("ab") == ("AB", "AC")
    assert prefix_range("a9") == ("A9", "AA")
    assert prefix_range("3fF") == ("3FF", "4")
    assert prefix_range("ff") == ("FF", None)
    for bad in ("", "xyz", "12 4"):
        with pytest.raises(ValueError, match="hex digits"):
            prefix_range(bad)


def test_find_prefix_is_exact_on_blocks_and_transactions(chain_db: Path | str) -> None:
    miner = key(1)
    chain = open_chain(chain_db)
    try:
        first = make_block(REGTEST, genesis_link(), miner=miner.address_digest)
        payment = pay(miner, key(2).address_digest, 10**8, 0)
        links = [first, make_block(REGTEST, first, [payment]), *[]]
        links += extend(REGTEST, links[-1], 18)
        import_all(chain, links)
        shown = [hash_to_hex(link.hash) for link in links]
        for text in shown:
            assert [hash_to_hex(h) for h in chain.store.find_prefix("headers", text[:8])] == [text]
        # Every stored header (genesis too) starts with one of the sixteen digits.
        found = [h for d in "0123456789abcdef" for h in chain.store.find_prefix("headers", d, 99)]
        assert len(found) == len(set(found)) == len(links) + 1
        txid = hash_to_hex(payment.txid)
        assert [hash_to_hex(t) for t in chain.store.find_prefix("txindex", txid[:10])] == [txid]
        assert chain.store.find_prefix("txindex", "f" * 64 if txid != "f" * 64 else "0" * 64) == []
    finally:
        chain.store.close()
