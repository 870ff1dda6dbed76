"""Fixtures shared by the core tests (the wallet tests use these)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tuichain.core.store import Store, open_store


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "node-5000"


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    old = os.umask(0o022)
    os.umask(old)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(old)


# The chain tests run on both store backends. `chain_db` is where one test's chain
# lives: an SQLite file under tmp_path, or a schema of its own in the session's
# PostgreSQL database; `new_chain_db` makes more (a reference chain beside it).
NewChainDb = Callable[[], "str | Path"]


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_chain_db(store_kind: str, request: pytest.FixtureRequest,
                 tmp_path: Path) -> NewChainDb:
    def make() -> str | Path:
        name = uuid.uuid4().hex[:12]
        if store_kind == "sqlite":
            return tmp_path / f"chain-{name}.sqlite3"
        dsn: str = request.getfixturevalue("pg_dsn")
        return f"{dsn}?schema=t_{name}"
    return make


@pytest.fixture
def chain_db(new_chain_db: NewChainDb) -> str | Path:
    return new_chain_db()


@pytest.fixture
def ledger_db(store_kind: str, new_chain_db: NewChainDb) -> str | None:
    """`Ledger.open(..., database=ledger_db)`: None keeps SQLite in the data directory."""
    target = new_chain_db()
    return target if isinstance(target, str) else None


@pytest.fixture
def store(chain_db: str | Path) -> Iterator[Store]:
    """An open store on `chain_db` (both backends), closed after the test."""
    opened = open_store(chain_db, "regtest")
    yield opened
    opened.close()
