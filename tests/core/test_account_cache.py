"""The SQLite writer keeps the account values it read or wrote, and answers from them
only while they are what the file holds: a rolled-back write, a failed one or a reorg
leaves every answer equal to a fresh connection's."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.builders import MINER, extend, funded, import_all, key, open_chain, paid_line
from tuichain.core.params import REGTEST
from tuichain.core.store import sqlite as sqlite_store
from tuichain.core.store.sqlite import SqliteStore

A, B = bytes([1]) * 20, bytes([2]) * 20


def _fresh(path: Path) -> dict[bytes, tuple[int, int]]:
    other = SqliteStore(path, readonly=True)
    try:
        return other.accounts([A, B])
    finally:
        other.close()


def _write_then_fail(store: SqliteStore, values: dict[bytes, tuple[int, int] | None]) -> None:
    """Write `values` in a transaction (a savepoint when one is open), see them, fail."""
    with store.transaction():
        store.write_accounts(values)
        assert store.accounts(values) == {a: v for a, v in values.items() if v is not None}
        raise RuntimeError("the block failed after its accounts were written")


@pytest.mark.parametrize("nested", [False, True], ids=["transaction", "savepoint"])
def test_a_rolled_back_write_is_not_served(tmp_path: Path, nested: bool) -> None:
    path = tmp_path / "chain.sqlite3"
    store = SqliteStore(path)
    try:
        with store.transaction():
            store.write_accounts({A: (10, 0)})
        # A failed block on its own, or one block of a batch whose others stay.
        with store.transaction() if nested else contextlib.nullcontext():
            with pytest.raises(RuntimeError):
                _write_then_fail(store, {A: None, B: (7, 0)})
            assert store.accounts([A, B]) == {A: (10, 0)}
        assert store.accounts([A, B]) == {A: (10, 0)} == _fresh(path)
        assert store.account(B) == (0, 0)
        assert not store.account_exists(B)
    finally:
        store.close()


def test_a_reorg_leaves_the_writer_agreeing_with_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A small cache, so values are also dropped and read again along the way.
    monkeypatch.setattr(sqlite_store, "ACCOUNT_CACHE", 4)
    payers = [key(i) for i in (1, 2, 3)]
    payees = [key(i).address_digest for i in (7, 8)]
    prefix = funded(payers)
    nonces: dict[bytes, int] = {}
    main = paid_line(REGTEST, prefix[-1], 3, payers, nonces, 4, to=payees[0])
    side_nonces: dict[bytes, int] = {}
    side = paid_line(REGTEST, prefix[-1], 3, payers, side_nonces, 3, to=payees[1], tag=b"side")
    heavier = side + extend(REGTEST, side[-1], 2, tag=b"side")
    chain = open_chain(tmp_path)
    try:
        import_all(chain, prefix + main)
        import_all(chain, heavier)  # the side branch wins: main's blocks are undone
        assert chain.tip.hash == heavier[-1].hash
        everyone = [p.address_digest for p in payers] + payees + [MINER]
        store = chain.store
        assert isinstance(store, SqliteStore)
        other = SqliteStore(store.path, readonly=True)
        try:
            assert store.accounts(everyone) == other.accounts(everyone)
            assert store.accounts([payees[0]]) == {}, "the undone branch's payee is gone"
        finally:
            other.close()
    finally:
        chain.store.close()
