"""The throwaway PostgreSQL server the backend tests run on is real and separate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.pgcluster import BINDIR_ENV, SUPERUSER, PgCluster

ROOT = Path(__file__).resolve().parents[1]


def test_pg_dsn_is_a_fresh_database_on_loopback(pg_dsn: str, pg_cluster: PgCluster) -> None:
    assert pg_dsn.startswith(f"postgresql://{SUPERUSER}@127.0.0.1:{pg_cluster.port}/")
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(
            "SELECT current_database(), inet_server_addr()::text, "
            "(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')"
        ).fetchone()
        assert row is not None
        assert row[0] == pg_dsn.rsplit("/", 1)[1]
        assert row[1] in ("127.0.0.1", "127.0.0.1/32")
        assert row[2] == 0, "a fresh database holds no tables"
        conn.execute("CREATE TABLE left_behind (x int)")


def test_each_test_gets_its_own_database(pg_dsn: str) -> None:
    """Runs after the test above: the table it left is not here."""
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT to_regclass('public.left_behind')").fetchone()
        assert row == (None,)


def test_the_server_does_not_run_as_root(pg_cluster: PgCluster, pg_dsn: str) -> None:
    pid = int((pg_cluster.data / "postmaster.pid").read_text().split()[0])
    assert os.stat(f"/proc/{pid}").st_uid != 0
    with psycopg.connect(pg_dsn) as conn:
        # A superuser of the cluster, so a backend can create its schemas.
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")\
            .fetchone() == (True,)


def test_database_is_dropped_after_use(pg_cluster: PgCluster) -> None:
    with pg_cluster.database() as dsn:
        name = dsn.rsplit("/", 1)[1]
        # A leaked connection does not keep the database alive.
        leaked = psycopg.connect(dsn)
    with psycopg.connect(pg_cluster.dsn()) as conn:
        found = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
        assert found.fetchone() == (0,)
    leaked.close()


def test_stop_removes_the_cluster() -> None:
    cluster = PgCluster().start()
    root, port = cluster.root, cluster.port
    with psycopg.connect(cluster.dsn()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    cluster.stop()
    assert not root.exists()
    try:
        psycopg.connect(f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres", connect_timeout=5)
    except psycopg.OperationalError:
        pass
    else:
        raise AssertionError("the server still answers after stop")


def test_no_server_fails_the_tests_loudly(tmp_path: Path) -> None:
    """Without PostgreSQL's programs a test that needs the server errors with the
    reason; it is never skipped."""
    test = tmp_path / "test_needs_pg.py"
    test.write_text("def test_needs_pg(pg_dsn):\n    pass\n")
    env = dict(os.environ, **{BINDIR_ENV: str(tmp_path / "no-postgres-here")})
    proc = subprocess.run(
        # The suite's conftest, loaded as a plugin: the test file lives outside the tree.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         str(test)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 error" in out, out
    assert "skipped" not in out, out
    assert "no PostgreSQL server for the tests" in out, out
    assert "no-postgres-here" in out, out
