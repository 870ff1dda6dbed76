"""The store opens only a database it can write and that is a tuichain chain (or nothing yet)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuichain.core.errors import CoreError, StoreError
from tuichain.core.ledger import DB_FILE, Ledger
from tuichain.core.params import DEFAULT, REGTEST
from tuichain.core.store.sqlite import SqliteStore


@pytest.fixture
def unwritable() -> Iterator[list[Path]]:
    """Make files unwritable for this very process: root ignores file modes, so as root
    the file is made immutable (chattr +i, which binds root too) and made mutable again
    afterwards; any other user gets chmod 444."""
    made: list[Path] = []
    yield made
    for path in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o644)


def _make_unwritable(made: list[Path], path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o444)
    made.append(path)
    with pytest.raises(PermissionError):  # the premise: this process cannot write it
        path.open("r+b").close()


async def test_a_store_that_cannot_be_written_is_refused(
    tmp_path: Path, unwritable: list[Path]
) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST)
    await ledger.close()
    path = tmp_path / DB_FILE
    _make_unwritable(unwritable, path)
    with pytest.raises(StoreError) as refused:
        await Ledger.open(tmp_path, REGTEST)
    assert isinstance(refused.value, CoreError)
    assert str(path) in refused.value.reason
    assert "read-only" in refused.value.reason
    # The ledger's own reader connection is read-only by design and still opens.
    SqliteStore(path, readonly=True).close()


def test_an_empty_file_is_adopted_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    path.write_bytes(b"")
    with pytest.raises(StoreError, match="empty.*move it aside to start over"):
        SqliteStore(path, adopt_empty=False)
    assert path.read_bytes() == b""
    SqliteStore(path).close()  # a fresh directory: the empty file becomes a new chain
    # No file at all is a chain moved aside: a new one is always fine.
    SqliteStore(tmp_path / "other.sqlite3", adopt_empty=False).close()


def test_another_programs_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes(text TEXT)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a tuichain chain database"):
        SqliteStore(path)
    assert path.read_bytes() == before


def test_bytes_that_are_not_sqlite_are_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(StoreError, match="not a tuichain chain database"):
        SqliteStore(path)


async def test_a_chain_of_another_network_names_the_file_and_the_way_out(
    tmp_path: Path,
) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST)
    await ledger.close()
    with pytest.raises(StoreError) as refused:
        await Ledger.open(tmp_path, DEFAULT)
    assert str(tmp_path / DB_FILE) in refused.value.reason
    assert "'regtest'" in refused.value.reason
    assert "move it aside to start over" in refused.value.reason
