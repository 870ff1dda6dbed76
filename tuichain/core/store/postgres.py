"""The PostgreSQL backend of the chain store (psycopg 3, the ``tuichain[postgres]`` extra).

Layout: the SQLite tables (see `sqlite.py`) in a schema of their own per network,
``tuichain_<network>`` (or the URL's ``?schema=NAME``), so one database can hold
several nodes' chains. Hashes and encodings are BYTEA, heights, balances and nonces
BIGINT; chainwork is BYTEA of 32 big-endian bytes, which PostgreSQL compares byte by
byte, so ``ORDER BY chainwork`` is by amount of work, as in SQLite.

The writer holds a session advisory lock on its schema for as long as it is
connected, so two nodes never write one chain. ``schema_version`` holds the
layout's version; `_MIGRATIONS` brings an older one up to date, and a newer one
than this code knows is refused.

A lost connection: the statement raises psycopg's OperationalError (one of
`transient`), the transaction it was in is gone as a whole (the server rolls back
what was not committed), and the next call reconnects, at most once per backoff
delay. A writer that reconnects raises once more instead of going on: what its
caller holds in memory may be behind a commit whose answer was lost, so the caller
reloads first (`reconnected`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow

from ..block import BlockHeader
from ..errors import SchemaVersionError, StoreError
from .base import (
    HAVE_DATA,
    HEADER_ONLY,
    INVALID,
    PREFIX_TABLES,
    HeaderEntry,
    RunRows,
    blob_to_work,
    decode_undo,
    prefix_range,
    redact,
    work_to_blob,
)

# Raise it with every change to the layout, and add the step to _MIGRATIONS.
SCHEMA_VERSION = 2

_TABLES = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE headers(
    hash BYTEA PRIMARY KEY, prev BYTEA NOT NULL, height BIGINT NOT NULL,
    chainwork BYTEA NOT NULL, header BYTEA NOT NULL, status SMALLINT NOT NULL
);
CREATE INDEX headers_prev ON headers(prev);
CREATE INDEX headers_best ON headers(status, chainwork);
CREATE TABLE blocks(hash BYTEA PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE chain(height BIGINT PRIMARY KEY, hash BYTEA NOT NULL);
CREATE INDEX chain_hash ON chain(hash);
CREATE TABLE accounts(address BYTEA PRIMARY KEY, balance BIGINT NOT NULL, nonce BIGINT NOT NULL);
CREATE TABLE undo(hash BYTEA PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE txindex(txid BYTEA PRIMARY KEY, block BYTEA NOT NULL, pos BIGINT NOT NULL);
CREATE TABLE history(
    address BYTEA NOT NULL, height BIGINT NOT NULL, pos BIGINT NOT NULL, txid BYTEA NOT NULL,
    PRIMARY KEY(address, height, pos)
);
CREATE INDEX history_height ON history(height);
CREATE TABLE mempool(txid BYTEA PRIMARY KEY, raw BYTEA NOT NULL, added DOUBLE PRECISION NOT NULL);
"""

# _MIGRATIONS[v] turns a schema of version v into version v + 1; version 0 is an
# empty schema. Each step runs in one transaction with the version update.
def _display_hex(column: str) -> str:
    """SQL for a 32-byte hash column as shown on screen: byte-reversed, upper-case hex.

    Only immutable built-ins, so it can be indexed: a typed prefix is then a range."""
    reversed_bytes = " || ".join(f"substring({column} from {i} for 1)" for i in range(32, 0, -1))
    return f"upper(encode({reversed_bytes}, 'hex'))"


# Version 2: indexes for the explorer's search by a hash's first hex digits.
_PREFIX_INDEXES = "".join(
    f"CREATE INDEX {table}_display ON {table}(({_display_hex(column)}));\n"
    for table, column in PREFIX_TABLES.items()
)

_MIGRATIONS: list[str] = [_TABLES, _PREFIX_INDEXES]

# The first key of the advisory lock (the second is the schema's hash): "tuic".
_LOCK_SPACE = 0x74756963
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_LOCK_WAIT = 5.0
_RETRY_FIRST = 0.5
_RETRY_MAX = 30.0
_HEADER_COLS = "hash, prev, height, chainwork, header, status"


def split_url(url: str, network: str) -> tuple[str, str]:
    """(the connection string for libpq, the schema): ``?schema=`` is ours, not libpq's."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = f"tuichain_{network}"
    rest = []
    for key, value in query:
        if key == "schema":
            schema = value
        else:
            rest.append((key, value))
    if not _SCHEMA_NAME.fullmatch(schema):
        raise StoreError(f"bad schema name {schema!r} in {redact(url)}: use lower-case "
                         "letters, digits and _ (at most 63, not starting with a digit)")
    return urlunsplit(parts._replace(query=urlencode(rest))), schema


class PostgresStore:
    """One PostgreSQL connection to one chain schema. Not shared between threads."""

    transient: tuple[type[Exception], ...] = (psycopg.OperationalError,)

    def __init__(self, url: str, network: str, *, readonly: bool = False) -> None:
        self.label = redact(url)
        self._conninfo, self.schema = split_url(url, network)
        self._readonly = readonly
        self.reconnected = False
        self._in_tx = False
        self._delay = _RETRY_FIRST
        self._retry_at = 0.0
        self._conn: psycopg.Connection[TupleRow] | None = None
        try:
            self._conn = self._connect()
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot open the chain at {self.label}: {_reason(exc)}") from None

    # ---- connection ------------------------------------------------------
    def _connect(self) -> psycopg.Connection[TupleRow]:
        conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10,
                               application_name="tuichain")
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: psycopg.Connection[TupleRow]) -> None:
        schema = sql.Identifier(self.schema)
        if not self._readonly and not self._lock(conn):
            raise StoreError(
                f"the chain schema {self.schema} at {self.label} is in use by another "
                "tuichain node: stop that node, or give this one another ?schema= or database"
            )
        found = self._version(conn)
        if found > SCHEMA_VERSION:
            raise SchemaVersionError(f"{self.label} (schema {self.schema})", found,
                                     SCHEMA_VERSION)
        if not self._readonly:
            for version in range(found, SCHEMA_VERSION):
                with conn.transaction():
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
                    conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
                    if version == 0:
                        conn.execute("CREATE TABLE schema_version(version INTEGER NOT NULL)")
                        conn.execute("INSERT INTO schema_version VALUES(0)")
                    conn.execute(_MIGRATIONS[version])
                    conn.execute("UPDATE schema_version SET version=%s", (version + 1,))
        elif found == 0:
            raise StoreError(f"no tuichain chain in schema {self.schema} at {self.label}")
        conn.execute(sql.SQL("SET search_path TO {}").format(schema))

    def _lock(self, conn: psycopg.Connection[TupleRow]) -> bool:
        """Take the schema's advisory lock, waiting a little: a node killed a moment ago
        still holds it until the server notices its connection is gone."""
        deadline = time.monotonic() + _LOCK_WAIT
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                               (_LOCK_SPACE, self.schema)).fetchone()
            if row is not None and row[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def _version(self, conn: psycopg.Connection[TupleRow]) -> int:
        """The schema's layout version; 0 for no schema or an empty one. StoreError for a
        schema holding some other program's tables."""
        tables = {str(r[0]) for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema=%s",
            (self.schema,))}
        if not tables:
            return 0
        if "schema_version" not in tables:
            raise StoreError(
                f"schema {self.schema} at {self.label} is not a tuichain chain (it has tables "
                f"{', '.join(sorted(tables))}): drop it, or use another ?schema="
            )
        row = conn.execute(sql.SQL("SELECT version FROM {}.schema_version").format(
            sql.Identifier(self.schema))).fetchone()
        return 0 if row is None else int(row[0])

    def _db(self) -> psycopg.Connection[TupleRow]:
        """The live connection, reconnecting after a loss (never inside a transaction:
        the statements before the loss are gone, so the rest must not commit alone)."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if self._in_tx:
            raise psycopg.OperationalError(f"lost the connection to {self.label}")
        now = time.monotonic()
        if now < self._retry_at:
            raise psycopg.OperationalError(
                f"lost the connection to {self.label}; reconnecting in "
                f"{self._retry_at - now:.1f} s")
        if conn is not None:
            conn.close()
        self._conn = None
        try:
            self._conn = self._connect()
        except (psycopg.OperationalError, StoreError) as exc:
            self._retry_at = now + self._delay
            self._delay = min(self._delay * 2, _RETRY_MAX)
            raise psycopg.OperationalError(
                f"lost the connection to {self.label}; reconnecting failed "
                f"({_reason(exc)}), next try in {self._retry_at - now:.1f} s") from None
        self._delay = _RETRY_FIRST
        if self._readonly:
            return self._conn
        self.reconnected = True
        raise psycopg.OperationalError(f"reconnected to {self.label}: try again")

    def _run(self, query: str, params: tuple[object, ...] = ()) -> psycopg.Cursor[TupleRow]:
        return self._db().execute(query, params)

    def _many(self, query: str, rows: list[tuple[object, ...]]) -> None:
        if rows:
            self._db().cursor().executemany(query, rows)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            yield from self._savepoint()
            return
        conn = self._db()
        conn.execute(b"BEGIN")
        self._in_tx = True
        try:
            yield
            conn.execute(b"COMMIT")
        except BaseException:
            if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute(b"ROLLBACK")
            raise
        finally:
            self._in_tx = False

    def _savepoint(self) -> Iterator[None]:
        conn = self._db()
        conn.execute(b"SAVEPOINT nested")
        try:
            yield
            conn.execute(b"RELEASE SAVEPOINT nested")
        except BaseException:
            if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute(b"ROLLBACK TO SAVEPOINT nested")
                conn.execute(b"RELEASE SAVEPOINT nested")
            raise

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """REPEATABLE READ: every query inside sees the state committed at its first
        statement, so a reorg committed by the writer meanwhile cannot mix two chains."""
        conn = self._db()
        conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self._in_tx = True
        try:
            yield
        finally:
            self._in_tx = False
            if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute(b"COMMIT")

    # ---- meta ----------------------------------------------------------------
    def find_prefix(self, table: str, prefix: str, limit: int = 2) -> list[bytes]:
        column = PREFIX_TABLES[table]
        low, high = prefix_range(prefix)
        expr = _display_hex(column)
        where = f"{expr} >= %s" + ("" if high is None else f" AND {expr} < %s")
        args = (low,) if high is None else (low, high)
        rows = self._run(f"SELECT {column} FROM {table} WHERE {where} LIMIT %s",
                         (*args, limit)).fetchall()
        return [_bytes(r[0]) for r in rows]

    def get_meta(self, key: str) -> bytes | None:
        row = self._run("SELECT value FROM meta WHERE key=%s", (key,)).fetchone()
        return None if row is None else _bytes(row[0])

    def set_meta(self, key: str, value: bytes) -> None:
        self._run("INSERT INTO meta VALUES(%s,%s) ON CONFLICT(key) DO UPDATE "
                  "SET value=excluded.value", (key, value))

    # ---- headers and blocks --------------------------------------------------
    def get_header(self, block_hash: bytes) -> HeaderEntry | None:
        row = self._run(f"SELECT {_HEADER_COLS} FROM headers WHERE hash=%s",
                        (block_hash,)).fetchone()
        return None if row is None else _entry(row)

    def put_header(self, entry: HeaderEntry) -> None:
        self.put_headers([entry])

    def put_headers(self, entries: list[HeaderEntry]) -> None:
        self._many(
            "INSERT INTO headers VALUES(%s,%s,%s,%s,%s,%s) ON CONFLICT(hash) DO UPDATE SET "
            "prev=excluded.prev, height=excluded.height, chainwork=excluded.chainwork, "
            "header=excluded.header, status=excluded.status",
            [(e.hash, e.prev, e.height, work_to_blob(e.chainwork), e.header.encoded, e.status)
             for e in entries],
        )

    def set_status(self, block_hash: bytes, status: int) -> None:
        self._run("UPDATE headers SET status=%s WHERE hash=%s", (status, block_hash))

    def children(self, block_hash: bytes) -> list[bytes]:
        rows = self._run("SELECT hash FROM headers WHERE prev=%s", (block_hash,))
        return [_bytes(r[0]) for r in rows]

    def best_with_data(self) -> HeaderEntry | None:
        row = self._run(f"SELECT {_HEADER_COLS} FROM headers WHERE status=%s "
                        "ORDER BY chainwork DESC LIMIT 1", (HAVE_DATA,)).fetchone()
        return None if row is None else _entry(row)

    def best_header(self) -> HeaderEntry | None:
        # Two index scans, not one over both statuses: a status IN (...) cannot be
        # read from (status, chainwork) in chainwork order.
        row = self._run(
            f"SELECT {_HEADER_COLS} FROM ("
            f"(SELECT {_HEADER_COLS} FROM headers WHERE status=%s "
            "ORDER BY chainwork DESC LIMIT 1) UNION ALL "
            f"(SELECT {_HEADER_COLS} FROM headers WHERE status=%s "
            "ORDER BY chainwork DESC LIMIT 1)) best ORDER BY chainwork DESC LIMIT 1",
            (HEADER_ONLY, HAVE_DATA)).fetchone()
        return None if row is None else _entry(row)

    def fetchable_above(self, chainwork: int, limit: int, scan: int) -> list[bytes]:
        """As in SQLite: among the `scan` lightest header-only blocks, the parent's
        status filtered before LIMIT."""
        rows = self._run(
            "SELECT h.hash FROM (SELECT hash, prev, chainwork FROM headers "
            "WHERE status=%s AND chainwork > %s ORDER BY chainwork LIMIT %s) h "
            "JOIN headers p ON p.hash = h.prev WHERE p.status=%s "
            "ORDER BY h.chainwork LIMIT %s",
            (HEADER_ONLY, work_to_blob(chainwork), scan, HAVE_DATA, limit),
        )
        return [_bytes(r[0]) for r in rows]

    def branch_tips(self, limit: int) -> list[bytes]:
        rows = self._run(
            "SELECT h.hash FROM headers h WHERE NOT EXISTS "
            "(SELECT 1 FROM headers c WHERE c.prev = h.hash) "
            "AND NOT EXISTS (SELECT 1 FROM chain WHERE chain.hash = h.hash) "
            "ORDER BY h.chainwork DESC LIMIT %s", (limit,),
        )
        return [_bytes(r[0]) for r in rows]

    def put_block(self, block_hash: bytes, data: bytes) -> None:
        self._run("INSERT INTO blocks VALUES(%s,%s) ON CONFLICT(hash) DO UPDATE "
                  "SET data=excluded.data", (block_hash, data))

    def get_block_data(self, block_hash: bytes) -> bytes | None:
        row = self._run("SELECT data FROM blocks WHERE hash=%s", (block_hash,)).fetchone()
        return None if row is None else _bytes(row[0])

    def servable_blocks(self, hashes: list[bytes]) -> dict[bytes, tuple[int, int, bytes]]:
        rows = self._run("SELECT h.hash, h.height, h.chainwork, b.data FROM headers h "
                         "JOIN blocks b ON b.hash = h.hash "
                         "WHERE h.hash = ANY(%s) AND h.status != %s", (hashes, INVALID))
        return {_bytes(h): (int(height), blob_to_work(_bytes(work)), _bytes(data))
                for h, height, work, data in rows}

    def block_size(self, block_hash: bytes) -> tuple[int, int] | None:
        # The transaction count is the 4 bytes after the 80-byte header.
        row = self._run("SELECT octet_length(data), substring(data from 81 for 4) "
                        "FROM blocks WHERE hash=%s", (block_hash,)).fetchone()
        if row is None:
            return None
        count = _bytes(row[1])
        if len(count) != 4:
            return None
        return int(row[0]), int.from_bytes(count, "little")

    # ---- active chain --------------------------------------------------------
    def chain_hash(self, height: int) -> bytes | None:
        row = self._run("SELECT hash FROM chain WHERE height=%s", (height,)).fetchone()
        return None if row is None else _bytes(row[0])

    def chain_hashes(self, start: int, count: int) -> list[tuple[int, bytes]]:
        rows = self._run("SELECT height, hash FROM chain WHERE height>=%s ORDER BY height "
                         "LIMIT %s", (start, count))
        return [(int(h), _bytes(x)) for h, x in rows]

    def chain_headers(self, start: int, count: int) -> list[HeaderEntry]:
        rows = self._run(
            "SELECT h.hash, h.prev, h.height, h.chainwork, h.header, h.status FROM chain c "
            "JOIN headers h ON h.hash = c.hash WHERE c.height >= %s ORDER BY c.height LIMIT %s",
            (start, count),
        )
        return [_entry(r) for r in rows]

    def chain_header_bytes(self, start: int, count: int) -> list[bytes]:
        rows = self._run(
            "SELECT h.header FROM chain c JOIN headers h ON h.hash = c.hash "
            "WHERE c.height >= %s ORDER BY c.height LIMIT %s",
            (start, count),
        )
        return [_bytes(r) for (r,) in rows]

    def tip_hash(self) -> bytes | None:
        return self.get_meta("tip")

    # ---- state ---------------------------------------------------------------
    def account(self, address: bytes) -> tuple[int, int]:
        row = self._run("SELECT balance, nonce FROM accounts WHERE address=%s",
                        (address,)).fetchone()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def accounts(self, addresses: Collection[bytes]) -> dict[bytes, tuple[int, int]]:
        if not addresses:
            return {}
        rows = self._run("SELECT address, balance, nonce FROM accounts WHERE address = ANY(%s)",
                         (list(set(addresses)),))
        return {bytes(a): (int(b), int(n)) for a, b, n in rows}

    def account_exists(self, address: bytes) -> bool:
        return self._run("SELECT 1 FROM accounts WHERE address=%s",
                         (address,)).fetchone() is not None

    def account_rows(self) -> Iterator[tuple[bytes, int, int]]:
        for a, b, n in self._run("SELECT address, balance, nonce FROM accounts"):
            yield _bytes(a), int(b), int(n)

    def write_accounts(self, values: dict[bytes, tuple[int, int] | None]) -> None:
        self._many(
            "INSERT INTO accounts VALUES(%s,%s,%s) ON CONFLICT(address) DO UPDATE "
            "SET balance=excluded.balance, nonce=excluded.nonce",
            [(a, b, n) for a, v in values.items() if v is not None for b, n in [v]],
        )
        gone = [a for a, v in values.items() if v is None]
        if gone:
            self._run("DELETE FROM accounts WHERE address = ANY(%s)", (gone,))

    def total_balance(self) -> int:
        row = self._run("SELECT COALESCE(SUM(balance), 0) FROM accounts").fetchone()
        return 0 if row is None else int(row[0])

    def connect(
        self, entry: HeaderEntry, new: dict[bytes, tuple[int, int]], undo: bytes,
        txrows: Iterable[tuple[bytes, int]], history: Iterable[tuple[bytes, int, bytes]],
    ) -> None:
        """Record a block joining the active chain (the caller holds the transaction)."""
        self.write_accounts(dict(new))
        self._run("INSERT INTO undo VALUES(%s,%s) ON CONFLICT(hash) DO UPDATE "
                  "SET data=excluded.data", (entry.hash, undo))
        self._many("INSERT INTO txindex VALUES(%s,%s,%s) ON CONFLICT(txid) DO UPDATE "
                   "SET block=excluded.block, pos=excluded.pos",
                   [(txid, entry.hash, pos) for txid, pos in txrows])
        self._many("INSERT INTO history VALUES(%s,%s,%s,%s) ON CONFLICT(address, height, pos) "
                   "DO UPDATE SET txid=excluded.txid",
                   [(addr, entry.height, pos, txid) for addr, pos, txid in history])
        self._run("INSERT INTO chain VALUES(%s,%s) ON CONFLICT(height) DO UPDATE "
                  "SET hash=excluded.hash", (entry.height, entry.hash))
        self.set_meta("tip", entry.hash)

    def connect_run(self, rows: RunRows) -> None:
        self.put_headers([e for e in rows.headers if e.hash not in rows.stored])
        self._many("UPDATE headers SET status=%s WHERE hash=%s",
                   [(e.status, e.hash) for e in rows.headers if e.hash in rows.stored])
        self._many("INSERT INTO blocks VALUES(%s,%s) ON CONFLICT(hash) DO UPDATE "
                   "SET data=excluded.data", list(rows.bodies))
        self.write_accounts(dict(rows.accounts))
        self._many("INSERT INTO undo VALUES(%s,%s) ON CONFLICT(hash) DO UPDATE "
                   "SET data=excluded.data", list(rows.undo))
        self._many("INSERT INTO txindex VALUES(%s,%s,%s) ON CONFLICT(txid) DO UPDATE "
                   "SET block=excluded.block, pos=excluded.pos", list(rows.txrows))
        self._many("INSERT INTO history VALUES(%s,%s,%s,%s) ON CONFLICT(address, height, pos) "
                   "DO UPDATE SET txid=excluded.txid", list(rows.history))
        self._many("INSERT INTO chain VALUES(%s,%s) ON CONFLICT(height) DO UPDATE "
                   "SET hash=excluded.hash", [(e.height, e.hash) for e in rows.headers])
        self.set_meta("tip", rows.headers[-1].hash)
        self.mempool_delete(rows.confirmed)

    def disconnect(self, entry: HeaderEntry, txids: list[bytes],
                   addresses: Collection[bytes]) -> None:
        # history_height finds the rows: `addresses` is for a store without that index.
        row = self._run("SELECT data FROM undo WHERE hash=%s", (entry.hash,)).fetchone()
        if row is None:
            raise RuntimeError(f"no undo data for active block at height {entry.height}")
        self.write_accounts(decode_undo(_bytes(row[0])))
        self._run("DELETE FROM txindex WHERE txid = ANY(%s)", (txids,))
        self._run("DELETE FROM history WHERE height=%s", (entry.height,))
        self._run("DELETE FROM chain WHERE height=%s", (entry.height,))
        self._run("DELETE FROM undo WHERE hash=%s", (entry.hash,))
        self.set_meta("tip", entry.prev)

    # ---- indexes -------------------------------------------------------------
    def tx_location(self, txid: bytes) -> tuple[bytes, int] | None:
        row = self._run("SELECT block, pos FROM txindex WHERE txid=%s", (txid,)).fetchone()
        return None if row is None else (_bytes(row[0]), int(row[1]))

    def history(self, address: bytes, limit: int, before_height: int | None = None
                ) -> list[tuple[int, int]]:
        top = before_height if before_height is not None else 1 << 62
        rows = self._run(
            "SELECT height, pos FROM history WHERE address=%s AND height<%s "
            "ORDER BY height DESC, pos DESC LIMIT %s", (address, top, limit),
        )
        return [(int(h), int(p)) for h, p in rows]

    # ---- mempool persistence -------------------------------------------------
    def mempool_put(self, txid: bytes, raw: bytes, added: float) -> None:
        self.mempool_put_many([(txid, raw, added)])

    def mempool_put_many(self, rows: list[tuple[bytes, bytes, float]]) -> None:
        self._many("INSERT INTO mempool VALUES(%s,%s,%s) ON CONFLICT(txid) DO UPDATE "
                   "SET raw=excluded.raw, added=excluded.added", list(rows))

    def mempool_delete(self, txids: Iterable[bytes]) -> None:
        gone = list(txids)
        if gone:
            self._run("DELETE FROM mempool WHERE txid = ANY(%s)", (gone,))

    def mempool_all(self) -> list[tuple[bytes, float]]:
        rows = self._run("SELECT raw, added FROM mempool ORDER BY added")
        return [(_bytes(r), float(a)) for r, a in rows]


def _bytes(value: object) -> bytes:
    assert isinstance(value, bytes | memoryview | bytearray), type(value)
    return bytes(value)


def _reason(exc: Exception) -> str:
    """The error's first line: libpq's messages run on with hints over several lines."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _entry(row: TupleRow) -> HeaderEntry:
    h, prev, height, work, header, status = row
    return HeaderEntry(_bytes(h), _bytes(prev), int(height), blob_to_work(_bytes(work)),
                       BlockHeader.decode(_bytes(header)), int(status))
