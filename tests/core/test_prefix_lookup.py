"""The explorer's search by a hash's first hex digits, on both store backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.builders import extend, genesis_link, import_all, key, make_block, open_chain, pay
from tuichain.core.hashing import hash_to_hex
from tuichain.core.params import REGTEST
from tuichain.core.store import open_store, prefix_range
from tuichain.core.store.sqlite import LEAD_BYTES, _display_hex


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


def test_sqlite_prefix_past_the_indexed_lead_is_exact_and_a_range(tmp_path: Path) -> None:
    """The SQLite index holds only the display form's first bytes: a longer prefix must
    still tell apart keys that share those bytes, and the lookup must use the index."""
    store = open_store(tmp_path / "chain.sqlite3", REGTEST.name)
    try:
        shared = bytes.fromhex("DEADBEEF")[::-1]  # display form starts DEADBEEF
        keys = [bytes([i]) * 28 + shared for i in (1, 2, 3)]
        with store.transaction():
            for k in keys:
                store.mempool_put(k, b"raw", 0.0)
        shown = [hash_to_hex(k) for k in keys]
        assert all(text.startswith("deadbeef") for text in shown)
        assert sorted(store.find_prefix("mempool", "deadbeef", 9)) == sorted(keys)
        for k, text in zip(keys, shown, strict=True):
            assert store.find_prefix("mempool", text[:10], 9) == [k]
            assert store.find_prefix("mempool", text, 9) == [k]
        assert store.find_prefix("mempool", "deadbeef" + "7" * 56, 9) == []
        # The stored mempool is scanned, its first display byte compared raw: a digit
        # and a half-byte prefix must mean the same as on an indexed table.
        other = bytes(31) + b"\xdf"  # display form starts DF
        with store.transaction():
            store.mempool_put(other, b"raw", 0.0)
        assert sorted(store.find_prefix("mempool", "d", 9)) == sorted([*keys, other])
        assert sorted(store.find_prefix("mempool", "DeAdB", 9)) == sorted(keys)
        assert store.find_prefix("mempool", "df", 9) == [other]
        assert store.find_prefix("mempool", "e", 9) == []
        plan = " ".join(str(row) for row in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT hash FROM headers WHERE "
            f"{_display_hex('hash', LEAD_BYTES)} >= 'DE' AND {_display_hex('hash', LEAD_BYTES)}"
            " < 'DF'"))
        assert "headers_lead" in plan, plan
    finally:
        store.close()


def test_sqlite_drops_the_full_display_index_of_older_versions(tmp_path: Path) -> None:
    """And the mempool's lead index of schema 1: each admission paid for it."""
    path = tmp_path / "chain.sqlite3"
    open_store(path, REGTEST.name).close()
    db = sqlite3.connect(path)
    db.execute(f"CREATE INDEX headers_display ON headers({_display_hex('hash')})")
    db.execute(f"CREATE INDEX mempool_lead ON mempool({_display_hex('txid', LEAD_BYTES)})")
    db.commit()
    db.close()
    open_store(path, REGTEST.name).close()
    db = sqlite3.connect(path)
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    db.close()
    assert "headers_display" not in names
    assert "mempool_lead" not in names
    assert "headers_lead" in names
