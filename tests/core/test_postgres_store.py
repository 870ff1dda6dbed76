"""What only the PostgreSQL backend has: the per-schema lock, its schema version, the
password kept out of messages, and a lost connection the ledger reports and survives."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.builders import key, mine_on, template_block
from tuichain.core.errors import SchemaVersionError, StorageError, StoreError
from tuichain.core.ledger import Ledger
from tuichain.core.params import REGTEST
from tuichain.core.store import open_store, redact
from tuichain.core.store.postgres import SCHEMA_VERSION


def _url(pg_dsn: str) -> str:
    return f"{pg_dsn}?schema=t_{uuid.uuid4().hex[:12]}"


def test_two_nodes_never_share_one_chain_schema(pg_dsn: str) -> None:
    url = _url(pg_dsn)
    first = open_store(url, "regtest")
    try:
        with pytest.raises(StoreError, match="in use by another tuichain node"):
            open_store(url, "regtest")
        open_store(url, "regtest", readonly=True).close()  # readers take no lock
    finally:
        first.close()
    open_store(url, "regtest").close()  # free again once the first has gone


def test_the_default_schema_is_per_network(pg_dsn: str) -> None:
    a = open_store(pg_dsn, "regtest")
    b = open_store(pg_dsn, "testnet")  # one database, two chains side by side
    try:
        assert (getattr(a, "schema", None), getattr(b, "schema", None)) == (
            "tuichain_regtest", "tuichain_testnet")
    finally:
        a.close()
        b.close()


def test_a_newer_schema_is_refused(pg_dsn: str) -> None:
    url = _url(pg_dsn)
    open_store(url, "regtest").close()
    schema = url.rsplit("=", 1)[1]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"UPDATE {schema}.schema_version SET version={SCHEMA_VERSION + 1}")
    for readonly in (False, True):
        with pytest.raises(SchemaVersionError) as info:
            open_store(url, "regtest", readonly=readonly)
        assert (info.value.found, info.value.supported) == (SCHEMA_VERSION + 1, SCHEMA_VERSION)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # and it was left as it was
        row = conn.execute(f"SELECT version FROM {schema}.schema_version").fetchone()
        assert row == (SCHEMA_VERSION + 1,)


def test_another_programs_schema_is_refused(pg_dsn: str) -> None:
    url = _url(pg_dsn)
    schema = url.rsplit("=", 1)[1]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.invoices(id int)")
    with pytest.raises(StoreError, match="not a tuichain chain"):
        open_store(url, "regtest")


def test_the_password_is_never_shown() -> None:
    assert redact("postgresql://ann:s3cret@db.example:5433/chain") == \
        "postgresql://ann:***@db.example:5433/chain"
    with pytest.raises(StoreError) as info:
        open_store("postgresql://ann:s3cret@127.0.0.1:1/chain", "regtest")
    assert "s3cret" not in str(info.value)
    assert "ann:***@127.0.0.1:1" in str(info.value)


def _kill_backends(pg_dsn: str) -> int:
    """Cut every other connection to the database, as a server restart or network loss does."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name = 'tuichain'").fetchall()
    return len(rows)


async def test_a_lost_connection_is_reported_and_the_ledger_resumes(
    tmp_path: Path, pg_dsn: str
) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST, database=_url(pg_dsn))
    try:
        payout = key(3).address_digest
        await mine_on(ledger, payout)
        block = await template_block(ledger, payout)
        assert _kill_backends(pg_dsn) >= 2  # the writer and the reader
        with pytest.raises(StorageError, match="connection"):
            await ledger.submit_block(block)
        assert ledger.storage_error is not None
        assert ledger.tip is not None
        assert ledger.tip.height == 1  # not taken, and nothing half-applied
        # It reconnects on a later try (after its backoff), without a restart.
        for _ in range(200):
            try:
                result = await ledger.submit_block(block)
                break
            except StorageError:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the ledger never reconnected")
        assert result.status == "connected"
        assert ledger.storage_error is None
        assert ledger.tip.height == 2
        assert await ledger.supply() == REGTEST.supply_at(2)  # the reader reconnected too
    finally:
        await ledger.close()
