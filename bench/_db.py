"""The storage backends a bench runs on, from its `--db` option.

  sqlite          SQLite in a temporary data directory (the default)
  postgresql://…  that server, beside SQLite: every run gets a database of its
                  own, created there and dropped after (the user needs CREATEDB)
  both            SQLite and a throwaway PostgreSQL cluster started for the run
                  (tests/pgcluster.py, as the test fixtures do)

Every PostgreSQL figure is printed beside SQLite's, since the ratio is the point.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from tests.pgcluster import PgCluster

SQLITE = "sqlite"
POSTGRES = "postgresql"


@dataclass(frozen=True)
class Backend:
    """`fresh()` gives the `--db` value of a new, empty chain database: None for
    SQLite (the data directory's own file), else a DSN."""

    name: str
    fresh: Callable[[], AbstractContextManager[str | None]]


@contextlib.contextmanager
def _sqlite() -> Iterator[None]:
    yield None


def _server_databases(dsn: str) -> Callable[[], AbstractContextManager[str | None]]:
    import psycopg

    @contextlib.contextmanager
    def fresh() -> Iterator[str | None]:
        name = f"tuichain_bench_{uuid.uuid4().hex[:12]}"
        parts = urlsplit(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return fresh


@contextlib.contextmanager
def backends(choice: str) -> Iterator[list[Backend]]:
    sqlite = Backend(SQLITE, _sqlite)
    if choice == SQLITE:
        yield [sqlite]
        return
    if choice == "both":
        with PgCluster(durable=True) as cluster:

            def fresh() -> AbstractContextManager[str | None]:
                return cluster.database()

            yield [sqlite, Backend(POSTGRES, fresh)]
        return
    if choice.startswith(("postgresql://", "postgres://")):
        yield [sqlite, Backend(POSTGRES, _server_databases(choice))]
        return
    raise SystemExit(f"--db: expected sqlite, both or a postgresql:// DSN, not {choice!r}")


DB_HELP = "sqlite (default), both (SQLite and a throwaway PostgreSQL cluster), or a DSN"


def side_by_side(rows: list[tuple[str, str, dict[str, float]]], names: list[str]) -> None:
    """Print one line per figure: its value on each backend and PostgreSQL's ratio to
    SQLite. `rows` holds (label, unit, {backend: value})."""
    header = f"{'':34s}" + "".join(f"{n:>14s}" for n in names)
    if len(names) > 1:
        header += f"{'pg / sqlite':>14s}"
    print(header)
    for label, unit, values in rows:
        line = f"{label + ' (' + unit + ')':34s}"
        line += "".join(f"{values.get(n, float('nan')):14.2f}" for n in names)
        if len(names) > 1:
            line += f"{ratio(values.get(POSTGRES), values.get(SQLITE)):14.2f}"
        print(line)


def ratio(value: float | None, base: float | None) -> float:
    if value is None or not base or base != base:
        return float("nan")
    return value / base
