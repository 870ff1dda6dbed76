"""The schema version lives in the database file; a file from a newer tuichain is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tuichain.core.errors import CoreError, SchemaVersionError
from tuichain.core.ledger import DB_FILE, Ledger
from tuichain.core.params import REGTEST
from tuichain.core.store.sqlite import SCHEMA_VERSION, SqliteStore


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _tables(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    finally:
        db.close()


async def test_a_new_database_carries_the_schema_version(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST)
    await ledger.close()
    assert _user_version(tmp_path / DB_FILE) == SCHEMA_VERSION >= 1


async def test_a_database_from_a_newer_tuichain_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaVersionError) as info:
        await Ledger.open(tmp_path, REGTEST)
    err = info.value
    assert isinstance(err, CoreError)
    assert (err.path, err.found, err.supported) == (path, SCHEMA_VERSION + 1, SCHEMA_VERSION)
    assert str(path) in err.reason
    assert f"version {SCHEMA_VERSION + 1}" in err.reason
    assert f"version {SCHEMA_VERSION} at most" in err.reason
    assert _tables(path) == []
    assert _user_version(path) == SCHEMA_VERSION + 1
    with pytest.raises(SchemaVersionError):
        SqliteStore(path, readonly=True)


def test_a_database_from_before_versions_were_written_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite3"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=0")
    db.close()
    store = SqliteStore(path)
    store.close()
    assert _user_version(path) == SCHEMA_VERSION
    assert "headers" in _tables(path)
