"""Fixtures for the whole suite: a real, throwaway PostgreSQL server.

`pg_cluster` starts one cluster per test session, and only in a session that
asks for it (tests/pgcluster.py: initdb + pg_ctl in a temporary directory, on a
free port of 127.0.0.1, as a non-root user). `pg_dsn` hands each test a DSN of
its own fresh database, dropped afterwards; `pg_new_dsn` makes more of them
(for module- or session-scoped fixtures, or a test that needs two).

If no server can be started the fixtures fail the tests that use them with the
reason: the PostgreSQL half of the suite is never skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.pgcluster import ClusterError, PgCluster

# The suite starts hundreds of node processes. Under PYTHONDONTWRITEBYTECODE each one
# would compile the whole package again (about 0.1 s a start on our machines); the
# caches go where Python keeps them, in __pycache__ folders git ignores.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    try:
        cluster = PgCluster().start()
    except ClusterError as exc:
        pytest.fail(f"no PostgreSQL server for the tests: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_new_dsn(pg_cluster: PgCluster) -> Callable[[], str]:
    """A factory of fresh databases; each goes with the cluster at session end."""
    return pg_cluster.create_database


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster) -> Iterator[str]:
    """`postgresql://user@127.0.0.1:PORT/dbname` of a fresh database for this test."""
    with pg_cluster.database() as dsn:
        yield dsn
