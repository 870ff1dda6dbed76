"""The stored mempool: what is put, replaced, deleted or rolled back, and SQLite's layout.

SQLite keeps the rows in arrival order (a rowid table without an index on the
txid) and finds a row by txid through a map the connection holds: a table keyed
by random txids dirtied a page of its own for each admission, and a batch of 256
wrote about 1 MB of WAL at 50,000 pending. These tests hold the map to the table
whatever happens to a transaction, on both backends.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tuichain.core.store import Store, open_store


class Boom(Exception):
    pass


def rows(store: Store) -> list[tuple[bytes, float]]:
    return store.mempool_all()


def put(store: Store, *names: str, added: float = 1.0, raw: str = "") -> None:
    with store.transaction():
        store.mempool_put_many([(txid(n), (raw or n).encode(), added + i)
                                for i, n in enumerate(names)])


def txid(name: str) -> bytes:
    return name.encode() * 4



def test_put_replace_and_delete(store: Store) -> None:
    put(store, "a", "b", "c")
    put(store, "b", added=9.0, raw="b2")  # a replacement of the same txid: one row, the new one
    with store.transaction():
        store.mempool_delete([txid("a"), txid("never stored")])
    assert rows(store) == [(b"c", 3.0), (b"b2", 9.0)]
    with store.transaction():
        store.mempool_delete([txid("b"), txid("c")])
    assert rows(store) == []


def test_a_rolled_back_transaction_leaves_the_stored_mempool_as_it_was(store: Store) -> None:
    put(store, "a", "b", "c")
    def fail() -> None:
        with store.transaction():
            store.mempool_delete([txid("b")])
            store.mempool_put_many([(txid("d"), b"d", 4.0), (txid("a"), b"a2", 5.0)])
            raise Boom

    with pytest.raises(Boom):
        fail()
    assert rows(store) == [(b"a", 1.0), (b"b", 2.0), (b"c", 3.0)]
    # What the rolled-back transaction did must not steer later writes: b is still
    # there to delete, a is still the old row to replace, d was never stored.
    with store.transaction():
        store.mempool_delete([txid("b"), txid("d")])
        store.mempool_put_many([(txid("a"), b"a3", 6.0)])
    assert rows(store) == [(b"c", 3.0), (b"a3", 6.0)]


def test_a_rolled_back_savepoint_keeps_the_rest_of_its_transaction(store: Store) -> None:
    put(store, "a", "b")
    def fail() -> None:
        with store.transaction():  # nested: a savepoint
            store.mempool_delete([txid("a"), txid("c")])
            raise Boom

    with store.transaction():
        store.mempool_put_many([(txid("c"), b"c", 3.0)])
        with pytest.raises(Boom):
            fail()
        store.mempool_delete([txid("b")])
    assert rows(store) == [(b"a", 1.0), (b"c", 3.0)]
    with store.transaction():
        store.mempool_delete([txid("a"), txid("c")])
    assert rows(store) == []


def test_the_stored_mempool_survives_a_reopen(chain_db: str | Path) -> None:
    first = open_store(chain_db, "regtest")
    put(first, "a", "b", "c")
    with first.transaction():
        first.mempool_delete([txid("b")])
    first.close()
    again = open_store(chain_db, "regtest")
    try:
        assert rows(again) == [(b"a", 1.0), (b"c", 3.0)]
        with again.transaction():
            again.mempool_delete([txid("a")])
            again.mempool_put_many([(txid("c"), b"c2", 7.0)])
        assert rows(again) == [(b"c2", 7.0)]
    finally:
        again.close()


# ---- SQLite's layout ------------------------------------------------------------------

def _sql(path: Path, *statements: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        out: list[tuple[object, ...]] = []
        for statement in statements:
            out = list(db.execute(statement))
        return out
    finally:
        db.close()


def _layout(path: Path) -> tuple[str, list[str]]:
    table = _sql(path, "SELECT sql FROM sqlite_master WHERE type='table' AND name='mempool'")
    indexes = _sql(path, "SELECT name FROM sqlite_master WHERE type='index' "
                         "AND tbl_name='mempool'")
    return str(table[0][0]), [str(name) for (name,) in indexes]


def test_sqlite_keeps_the_stored_mempool_in_arrival_order(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite3"
    store = open_store(path, "regtest")
    put(store, "a")
    store.close()
    table, indexes = _layout(path)
    assert "WITHOUT ROWID" not in table.upper(), table
    assert "PRIMARY KEY" not in table.upper(), table
    assert indexes == []  # the explorer scans it (see SqliteStore._mempool_prefix)


def test_an_older_files_mempool_moves_to_arrival_order_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite3"
    open_store(path, "regtest").close()
    _sql(path,
         "DROP TABLE mempool",
         "CREATE TABLE mempool(txid BLOB PRIMARY KEY, raw BLOB NOT NULL, added REAL NOT NULL)"
         " WITHOUT ROWID",
         "INSERT INTO mempool VALUES(x'ff', x'01', 2.0), (x'00', x'02', 1.0)")
    store = open_store(path, "regtest")
    try:
        assert rows(store) == [(b"\x02", 1.0), (b"\x01", 2.0)]
        with store.transaction():
            store.mempool_delete([b"\xff"])
        assert rows(store) == [(b"\x02", 1.0)]
    finally:
        store.close()
    table, _ = _layout(path)
    assert "WITHOUT ROWID" not in table.upper()


def test_duplicate_rows_an_older_tuichain_wrote_are_merged_at_open(tmp_path: Path) -> None:
    # An older tuichain writes this layout with INSERT OR REPLACE, which without a key
    # appends: a replaced transaction is then there twice. The newest row wins.
    path = tmp_path / "chain.sqlite3"
    open_store(path, "regtest").close()
    _sql(path, "INSERT OR REPLACE INTO mempool VALUES(x'aa', x'01', 1.0)",
         "INSERT OR REPLACE INTO mempool VALUES(x'bb', x'02', 2.0)",
         "INSERT OR REPLACE INTO mempool VALUES(x'aa', x'03', 3.0)")
    store = open_store(path, "regtest")
    try:
        assert rows(store) == [(b"\x02", 2.0), (b"\x03", 3.0)]
        with store.transaction():
            store.mempool_delete([b"\xaa"])
        assert rows(store) == [(b"\x02", 2.0)]
    finally:
        store.close()

