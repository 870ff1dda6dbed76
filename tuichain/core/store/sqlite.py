"""The SQLite backend of the chain store: the embedded default, one file in the data directory.

Every write path of the chain is one SQL transaction.

Layout (all hashes in internal byte order):
  headers   hash -> prev, height, chainwork (32-byte big-endian, sorts as a number), header, status
  blocks    hash -> encoded block
  chain     height -> hash of the active chain
  accounts  address -> balance, nonce at the active tip
  undo      hash -> the account values the block replaced
  txindex   txid in display order (byte-reversed) -> block height, position (active
            chain only); see sqlite_layout
  history   (address, height) -> the positions in that block of the transactions
            touching the address (active chain only); see sqlite_layout
  mempool   txid -> encoded tx, time added
  meta      key -> value (tip, network)

The schema version is SQLite's `PRAGMA user_version`, written when the file is
created; 0 is a file from before versions were written, which has schema 1. Schema 2
keys the txindex by the txid in display order; opening a schema-1 file rewrites it.
Schema 3 names a transaction's block by height in the txindex and keeps one history
row per account and height; opening an older file rewrites both.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..block import BlockHeader
from ..errors import SchemaVersionError, StoreError
from .base import (
    HAVE_DATA,
    HEADER_ONLY,
    INVALID,
    HeaderEntry,
    RunRows,
    blob_to_work,
    decode_undo,
    prefix_range,
    work_to_blob,
)
from .sqlite_layout import history_rows, unpack_positions, upgrade_layout

# Raise it with every change to _SCHEMA that an older tuichain cannot read.
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS headers(
    hash BLOB PRIMARY KEY, prev BLOB NOT NULL, height INTEGER NOT NULL,
    chainwork BLOB NOT NULL, header BLOB NOT NULL, status INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS headers_prev ON headers(prev);
CREATE INDEX IF NOT EXISTS headers_best ON headers(status, chainwork);
CREATE TABLE IF NOT EXISTS blocks(hash BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chain(height INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS accounts(
    address BLOB PRIMARY KEY, balance INTEGER NOT NULL, nonce INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS undo(hash BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS txindex(
    display_txid BLOB PRIMARY KEY, height INTEGER NOT NULL, pos INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history(
    address BLOB NOT NULL, height INTEGER NOT NULL, positions BLOB NOT NULL,
    PRIMARY KEY(address, height)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mempool(txid BLOB NOT NULL, raw BLOB NOT NULL, added REAL NOT NULL);
"""

def _display_hex(column: str, nbytes: int = 32) -> str:
    """SQL for the first `nbytes` of a 32-byte hash column in display form
    (byte-reversed, upper-case hex).

    Hashes are stored in internal byte order but shown reversed, so a typed
    prefix is a prefix of this expression, not of the column. Built only from
    SQLite's own deterministic functions, it can be indexed, and an older
    tuichain (or the sqlite3 shell) can still write these tables.
    """
    return "||".join(f"hex(substr({column},{i},1))" for i in range(32, 32 - nbytes, -1))


# The display form's leading bytes, indexed so a hex prefix is a range query, not a
# scan; the rest of a longer prefix is checked on the few rows in that range. Four
# bytes, not all 32: every insert computes the expression, and the whole of it made a
# sync's block import twice as slow (the `_display` index of earlier versions, dropped
# here; an older version that opens the file makes it again, which changes nothing).
LEAD_BYTES = 4
_LEAD_TABLES = {"headers": "hash"}
_PREFIX_INDEXES = "".join(
    f"DROP INDEX IF EXISTS {table}_display;\n"
    f"CREATE INDEX IF NOT EXISTS {table}_lead ON {table}({_display_hex(column, LEAD_BYTES)});\n"
    for table, column in _LEAD_TABLES.items()
) + "DROP INDEX IF EXISTS mempool_display;\nDROP INDEX IF EXISTS mempool_lead;\n"
# The stored mempool has no such index (see _mempool_prefix).

def _display_range(expr: str, prefix: str) -> tuple[list[str], list[str]]:
    """SQL terms (and their arguments) for `expr`, a display form, starting with `prefix`."""
    low, high = prefix_range(prefix)
    if high is None:
        return [f"{expr} >= ?"], [low]
    return [f"{expr} >= ?", f"{expr} < ?"], [low, high]


def _hex_bound(digits: str) -> bytes:
    """A display prefix's bound as bytes: an odd last digit is the high half of a byte."""
    return bytes.fromhex(digits + "0" * (len(digits) % 2))

# Log bytes written before they are copied into the database, and the size the log is
# cut back to after a copy.
WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024
# The page size of a new file (an existing one keeps its own). A block's commit writes
# every page it changed, one in each of a dozen tables and indexes, into the log: at
# SQLite's default of 4,096 bytes an empty block cost 52 KB of log. Half-size pages
# imported empty blocks 19 % faster and made a synced file 13-16 % smaller (fewer bytes
# left unused in pages split by random keys); a 100,000-block sync, whose file outgrows
# the page cache, ran in 386 s instead of 508.
PAGE_SIZE = 2048
WAL_SIZE_LIMIT = 16 * 1024 * 1024
# Account values the writer keeps (see SqliteStore._known): some 25 MB at most.
ACCOUNT_CACHE = 100_000

# Tables every tuichain database has had since schema 1: a file with tables but
# not these is some other program's.
# Parameters in one statement: SQLite builds before 3.32 allow at most 999.
_MAX_PARAMS = 900

_OUR_TABLES = frozenset({"meta", "headers", "blocks", "chain", "accounts"})
_START_OVER = "move it aside to start over"

class SqliteStore:
    """One SQLite connection. Not shared between threads: open one per thread."""

    transient: tuple[type[Exception], ...] = (sqlite3.OperationalError,)

    def __init__(self, path: Path, *, readonly: bool = False, adopt_empty: bool = True) -> None:
        """Open (or create) the database at ``path``; StoreError if it is not ours to use.

        ``adopt_empty``: whether an existing file without any tables (0 bytes,
        say) may become a new chain. A node refuses that in a directory it has
        used before, where an empty file means the chain was lost, not never made.
        A missing file is always a new chain: that is how a person starts over.
        """
        self.path = path
        self._pending: dict[bytes, int] | None = None  # see _pending_rows
        # Account values as this connection last read or wrote them (None: no such
        # account), so a block's or an admission batch's senders are mostly not read
        # again. Only the writer keeps them: every write to the table goes through
        # write_accounts on this one connection (the data directory's lock keeps other
        # processes out), and a rollback forgets them all.
        self._known: dict[bytes, tuple[int, int] | None] | None = None if readonly else {}
        self.label = str(path)
        self.reconnected = False  # a file is never reconnected to
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._open(existed=existed, readonly=readonly, adopt_empty=adopt_empty)
        except BaseException:
            self.db.close()
            raise

    def _open(self, *, existed: bool, readonly: bool, adopt_empty: bool) -> None:
        path = self.path
        self.db.execute("PRAGMA busy_timeout=10000")
        try:
            found = int(self.db.execute("PRAGMA user_version").fetchone()[0])
            tables = {r[0] for r in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            raise StoreError(
                f"{path} is not a tuichain chain database ({exc}): {_START_OVER}"
            ) from None
        if found > SCHEMA_VERSION:
            raise SchemaVersionError(path, found, SCHEMA_VERSION)
        if readonly:
            self.db.execute("PRAGMA cache_size=-16000")
            return
        if not tables and existed and not adopt_empty:
            raise StoreError(
                f"{path} is empty, but this data directory held a node: its chain is gone; "
                f"{_START_OVER}"
            )
        if tables and not tables >= _OUR_TABLES:
            raise StoreError(
                f"{path} is not a tuichain chain database (it has tables "
                f"{', '.join(sorted(tables))}): {_START_OVER}"
            )
        try:
            if not tables:  # only before the first page is written
                self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash at any instant; only an
            # OS crash may drop the last commits, never half of one.
            self.db.execute("PRAGMA synchronous=NORMAL")
            # SQLite copies the log into the file every 1,000 pages by default: during a
            # sync that was every few big blocks, 13 % of the writer's time, and the same
            # hot index pages were copied again each time. A bigger log is copied less
            # often, each hot page once; the file is cut back to the limit afterwards.
            page = int(self.db.execute("PRAGMA page_size").fetchone()[0])
            self.db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_BYTES // page}")
            self.db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            self.db.executescript(_SCHEMA + _PREFIX_INDEXES)
            upgrade_layout(self.db, self.transaction, self.path)
            if found < SCHEMA_VERSION:
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._prove_writable()
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"cannot write the chain database {path}: it is read-only ({exc}); "
                "make it and its directory writable by this user"
            ) from None
        self.db.execute("PRAGMA cache_size=-16000")

    def _prove_writable(self) -> None:
        """Write a row and roll it back. SQLite opens a file it may not write read-only
        without a word, and every statement above can succeed on such a file."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES('write-check', x'00')")
        finally:
            self.db.execute("ROLLBACK")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.db.in_transaction:
            yield from self._savepoint()
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self._pending = None  # it may hold rows the rollback takes away: read it again
            self._forget_accounts()
            # After SQLITE_FULL or an I/O error SQLite may have rolled back already; a
            # second ROLLBACK would raise and hide the real error. A failed COMMIT can
            # leave the transaction open, which would block every later BEGIN.
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def _savepoint(self) -> Iterator[None]:
        self.db.execute("SAVEPOINT nested")
        try:
            yield
            self.db.execute("RELEASE nested")
        except BaseException:
            self._pending = None
            self._forget_accounts()
            # SQLite may have rolled the whole transaction back already (SQLITE_FULL).
            if self.db.in_transaction:
                self.db.execute("ROLLBACK TO nested")
                self.db.execute("RELEASE nested")
            raise

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every query inside sees the same committed state, so
        a reorg committed by the writer meanwhile cannot mix two chains in one answer."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    # meta
    def get_meta(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, key: str, value: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES(?,?)", (key, value))

    # hex prefixes, as typed in the explorer
    def find_prefix(self, table: str, prefix: str, limit: int = 2) -> list[bytes]:
        """Up to ``limit`` keys of ``table`` whose display hex starts with ``prefix``
        (hex digits, any case): a range on the txindex's key, on the headers' lead index,
        or a scan of the stored mempool."""
        if table == "txindex":
            return self._txid_prefix(prefix, limit)
        if table == "mempool":
            return self._mempool_prefix(prefix, limit)
        column = _LEAD_TABLES[table]
        lead, lead_args = _display_range(_display_hex(column, LEAD_BYTES),
                                         prefix[:2 * LEAD_BYTES])
        full, full_args = _display_range(_display_hex(column), prefix)
        where, args = lead + full, lead_args + full_args
        rows = self.db.execute(
            f"SELECT {column} FROM {table} WHERE {' AND '.join(where)} LIMIT ?", (*args, limit)
        )
        return [bytes(r[0]) for r in rows]

    def _mempool_prefix(self, prefix: str, limit: int) -> list[bytes]:
        """A scan: an index of random keys beside the arrival order cost every admission
        pages of its own (admission 0.58-0.61x raw verify with it, 0.67-0.72x without),
        and a search is one person typing. The display form's first byte is the txid's
        last, compared raw, so the full display form is computed for few rows."""
        full, full_args = _display_range(_display_hex("txid"), prefix)  # checks the digits
        low = prefix.upper()
        if len(low) >= 2:
            where, args = ["substr(txid, 32, 1) = ?"], [bytes.fromhex(low[:2])]
        else:
            where = ["substr(txid, 32, 1) >= ?", "substr(txid, 32, 1) <= ?"]
            args = [_hex_bound(low), bytes.fromhex(low + "F")]
        rows = self.db.execute(f"SELECT txid FROM mempool WHERE {' AND '.join(where + full)} "
                               "LIMIT ?", (*args, *full_args, limit))
        return [bytes(r[0]) for r in rows]

    def _txid_prefix(self, prefix: str, limit: int) -> list[bytes]:
        low, high = prefix_range(prefix)
        sql = "SELECT display_txid FROM txindex WHERE display_txid >= ?"
        args: list[bytes | int] = [_hex_bound(low)]
        if high is not None:
            sql += " AND display_txid < ?"
            args.append(_hex_bound(high))
        rows = self.db.execute(sql + " ORDER BY display_txid LIMIT ?", (*args, limit))
        return [bytes(r[0])[::-1] for r in rows]

    # headers and blocks
    def get_header(self, block_hash: bytes) -> HeaderEntry | None:
        row = self.db.execute(
            "SELECT hash, prev, height, chainwork, header, status FROM headers WHERE hash=?",
            (block_hash,),
        ).fetchone()
        return None if row is None else _entry(row)

    def put_header(self, entry: HeaderEntry) -> None:
        self.put_headers([entry])

    def put_headers(self, entries: list[HeaderEntry]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO headers VALUES(?,?,?,?,?,?)",
            [(e.hash, e.prev, e.height, work_to_blob(e.chainwork), e.header.encoded, e.status)
             for e in entries],
        )

    def set_status(self, block_hash: bytes, status: int) -> None:
        self.db.execute("UPDATE headers SET status=? WHERE hash=?", (status, block_hash))

    def children(self, block_hash: bytes) -> list[bytes]:
        rows = self.db.execute("SELECT hash FROM headers WHERE prev=?", (block_hash,))
        return [bytes(r[0]) for r in rows]

    def best_with_data(self) -> HeaderEntry | None:
        row = self.db.execute(
            "SELECT hash, prev, height, chainwork, header, status FROM headers "
            "WHERE status=? ORDER BY chainwork DESC LIMIT 1", (HAVE_DATA,),
        ).fetchone()
        return None if row is None else _entry(row)

    def best_header(self) -> HeaderEntry | None:
        row = self.db.execute(
            "SELECT hash, prev, height, chainwork, header, status FROM headers "
            "WHERE status IN (?, ?) ORDER BY chainwork DESC LIMIT 1", (HEADER_ONLY, HAVE_DATA),
        ).fetchone()
        return None if row is None else _entry(row)

    def fetchable_above(self, chainwork: int, limit: int, scan: int) -> list[bytes]:
        """Header-only blocks with more work than `chainwork` whose parent has its body,
        lightest first, among the `scan` lightest header-only ones. The parent's status
        is filtered in the query, before LIMIT: a crowd of header-only children of
        header-only parents must not fill the answer. `scan` bounds the rows read: in a
        sync almost no header-only block has a parent with a body, and without it each
        download round read every header still waiting for its body."""
        rows = self.db.execute(
            "SELECT h.hash FROM (SELECT hash, prev, chainwork FROM headers "
            "WHERE status=? AND chainwork > ? ORDER BY chainwork LIMIT ?) h "
            "JOIN headers p ON p.hash = h.prev WHERE p.status=? "
            "ORDER BY h.chainwork LIMIT ?",
            (HEADER_ONLY, work_to_blob(chainwork), scan, HAVE_DATA, limit),
        )
        return [bytes(r[0]) for r in rows]

    def branch_tips(self, limit: int) -> list[bytes]:
        rows = self.db.execute(
            "SELECT h.hash FROM headers h WHERE NOT EXISTS "
            "(SELECT 1 FROM headers c WHERE c.prev = h.hash) "
            # By the chain's key, the height: the chain has no index on the hash, and
            # each tip read the whole of it.
            "AND NOT EXISTS (SELECT 1 FROM chain WHERE chain.height = h.height "
            "AND chain.hash = h.hash) "
            "ORDER BY h.chainwork DESC LIMIT ?", (limit,),
        )
        return [bytes(r[0]) for r in rows]

    def block_size(self, block_hash: bytes) -> tuple[int, int] | None:
        # The transaction count is the 4 bytes after the 80-byte header.
        row = self.db.execute(
            "SELECT length(data), substr(data, 81, 4) FROM blocks WHERE hash=?", (block_hash,),
        ).fetchone()
        if row is None or len(row[1]) != 4:
            return None
        return int(row[0]), int.from_bytes(bytes(row[1]), "little")

    def put_block(self, block_hash: bytes, data: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO blocks VALUES(?,?)", (block_hash, data))

    def get_block_data(self, block_hash: bytes) -> bytes | None:
        row = self.db.execute("SELECT data FROM blocks WHERE hash=?", (block_hash,)).fetchone()
        return None if row is None else bytes(row[0])

    def servable_blocks(self, hashes: list[bytes]) -> dict[bytes, tuple[int, int, bytes]]:
        out: dict[bytes, tuple[int, int, bytes]] = {}
        query = ("SELECT h.height, h.chainwork, b.data FROM headers h JOIN blocks b "
                 "ON b.hash = h.hash WHERE h.hash=? AND h.status!=?")
        for h in hashes:
            row = self.db.execute(query, (h, INVALID)).fetchone()
            if row is not None:
                out[h] = (int(row[0]), blob_to_work(bytes(row[1])), bytes(row[2]))
        return out

    # active chain
    def chain_hash(self, height: int) -> bytes | None:
        row = self.db.execute("SELECT hash FROM chain WHERE height=?", (height,)).fetchone()
        return None if row is None else bytes(row[0])

    def chain_hashes(self, start: int, count: int) -> list[tuple[int, bytes]]:
        rows = self.db.execute(
            "SELECT height, hash FROM chain WHERE height>=? ORDER BY height LIMIT ?",
            (start, count),
        )
        return [(int(h), bytes(x)) for h, x in rows]

    def chain_headers(self, start: int, count: int) -> list[HeaderEntry]:
        rows = self.db.execute(
            "SELECT h.hash, h.prev, h.height, h.chainwork, h.header, h.status FROM chain c "
            "JOIN headers h ON h.hash = c.hash WHERE c.height >= ? ORDER BY c.height LIMIT ?",
            (start, count),
        )
        return [_entry(r) for r in rows]

    def chain_header_bytes(self, start: int, count: int) -> list[bytes]:
        rows = self.db.execute(
            "SELECT h.header FROM chain c JOIN headers h ON h.hash = c.hash "
            "WHERE c.height >= ? ORDER BY c.height LIMIT ?",
            (start, count),
        )
        return [bytes(r) for (r,) in rows]

    def tip_hash(self) -> bytes | None:
        return self.get_meta("tip")

    # state
    def account(self, address: bytes) -> tuple[int, int]:
        return self.accounts((address,)).get(address, (0, 0))

    def accounts(self, addresses: Collection[bytes]) -> dict[bytes, tuple[int, int]]:
        known = self._known
        if known is None:
            return self._read_accounts(set(addresses))
        found: dict[bytes, tuple[int, int]] = {}
        asked: set[bytes] = set()
        for address in addresses:
            if address in known:
                value = known[address]
                if value is not None:
                    found[address] = value
            else:
                asked.add(address)
        if asked:
            read = self._read_accounts(asked)
            for address in asked:
                known[address] = value = read.get(address)
                if value is not None:
                    found[address] = value
            self._bound_known()
        return found

    def _read_accounts(self, addresses: set[bytes]) -> dict[bytes, tuple[int, int]]:
        asked = list(addresses)
        found: dict[bytes, tuple[int, int]] = {}
        for i in range(0, len(asked), _MAX_PARAMS):
            part = asked[i:i + _MAX_PARAMS]
            rows = self.db.execute(
                "SELECT address, balance, nonce FROM accounts WHERE address IN "
                f"({','.join('?' * len(part))})", part)
            found.update((bytes(a), (int(b), int(n))) for a, b, n in rows)
        return found

    def _bound_known(self) -> None:
        known = self._known
        if known is not None and len(known) > ACCOUNT_CACHE:
            for address in list(itertools.islice(known, len(known) - ACCOUNT_CACHE // 2)):
                del known[address]  # the oldest read or written first

    def account_exists(self, address: bytes) -> bool:
        return address in self.accounts((address,))

    def account_rows(self) -> Iterator[tuple[bytes, int, int]]:
        for a, b, n in self.db.execute("SELECT address, balance, nonce FROM accounts"):
            yield bytes(a), int(b), int(n)

    def write_accounts(self, values: dict[bytes, tuple[int, int] | None]) -> None:
        try:
            self.db.executemany(
                "INSERT INTO accounts VALUES(?,?,?) ON CONFLICT(address) DO UPDATE "
                "SET balance=excluded.balance, nonce=excluded.nonce",
                [(a, b, n) for a, v in values.items() if v is not None for b, n in [v]],
            )
            gone = [(a,) for a, v in values.items() if v is None]
            if gone:
                self.db.executemany("DELETE FROM accounts WHERE address=?", gone)
        except BaseException:
            self._forget_accounts()  # some rows may be written, outside a transaction
            raise
        if self._known is not None:
            self._known.update(values)
            self._bound_known()

    def _forget_accounts(self) -> None:
        if self._known is not None:
            self._known.clear()

    def total_balance(self) -> int:
        row = self.db.execute("SELECT COALESCE(SUM(balance), 0) FROM accounts").fetchone()
        return int(row[0])

    def connect(
        self, entry: HeaderEntry, new: dict[bytes, tuple[int, int]], undo: bytes,
        txrows: Iterable[tuple[bytes, int]], history: Iterable[tuple[bytes, int, bytes]],
    ) -> None:
        """Record a block joining the active chain (caller holds the transaction)."""
        self.write_accounts(dict(new))
        self.db.execute("INSERT OR REPLACE INTO undo VALUES(?,?)", (entry.hash, undo))
        self.db.executemany(
            "INSERT OR REPLACE INTO txindex VALUES(?,?,?)",
            [(txid[::-1], entry.height, pos) for txid, pos in txrows],
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO history VALUES(?,?,?)",
            history_rows((addr, entry.height, pos, txid) for addr, pos, txid in history),
        )
        self.db.execute("INSERT OR REPLACE INTO chain VALUES(?,?)", (entry.height, entry.hash))
        self.set_meta("tip", entry.hash)

    def connect_run(self, rows: RunRows) -> None:
        db = self.db
        # A stored header only changes status: an UPDATE leaves its other indexes alone.
        db.executemany("UPDATE headers SET status=? WHERE hash=?",
                       [(e.status, e.hash) for e in rows.headers if e.hash in rows.stored])
        self.put_headers([e for e in rows.headers if e.hash not in rows.stored])
        db.executemany("INSERT OR REPLACE INTO blocks VALUES(?,?)", rows.bodies)
        self.write_accounts(dict(rows.accounts))
        db.executemany("INSERT OR REPLACE INTO undo VALUES(?,?)", rows.undo)
        heights = {e.hash: e.height for e in rows.headers}
        db.executemany("INSERT OR REPLACE INTO txindex VALUES(?,?,?)",
                       [(txid[::-1], heights[block], pos) for txid, block, pos in rows.txrows])
        db.executemany("INSERT OR REPLACE INTO history VALUES(?,?,?)", history_rows(rows.history))
        db.executemany("INSERT OR REPLACE INTO chain VALUES(?,?)",
                       [(e.height, e.hash) for e in rows.headers])
        self.set_meta("tip", rows.headers[-1].hash)
        if rows.confirmed:
            self.mempool_delete(rows.confirmed)

    def disconnect(self, entry: HeaderEntry, txids: list[bytes],
                   addresses: Collection[bytes]) -> None:
        data = self.db.execute("SELECT data FROM undo WHERE hash=?", (entry.hash,)).fetchone()
        if data is None:
            raise RuntimeError(f"no undo data for active block at height {entry.height}")
        self.write_accounts(decode_undo(bytes(data[0])))
        self.db.executemany("DELETE FROM txindex WHERE display_txid=?",
                            [(t[::-1],) for t in txids])
        # By key: the table has no index on the height alone, and one would cost every
        # connected row another insert; "WHERE height=?" scanned the whole history.
        self.db.executemany("DELETE FROM history WHERE address=? AND height=?",
                            [(a, entry.height) for a in addresses])
        self.db.execute("DELETE FROM chain WHERE height=?", (entry.height,))
        self.db.execute("DELETE FROM undo WHERE hash=?", (entry.hash,))
        self.set_meta("tip", entry.prev)

    # indexes
    def tx_location(self, txid: bytes) -> tuple[bytes, int] | None:
        row = self.db.execute("SELECT c.hash, t.pos FROM txindex t JOIN chain c "
                              "ON c.height = t.height WHERE t.display_txid=?",
                              (txid[::-1],)).fetchone()
        return None if row is None else (bytes(row[0]), int(row[1]))

    def history(self, address: bytes, limit: int, before_height: int | None = None
                ) -> list[tuple[int, int]]:
        top = before_height if before_height is not None else 1 << 62
        rows = self.db.execute(
            "SELECT height, positions FROM history WHERE address=? AND height<? "
            "ORDER BY height DESC LIMIT ?", (address, top, limit),
        )
        out: list[tuple[int, int]] = []
        for height, positions in rows:
            for pos in reversed(unpack_positions(bytes(positions))):
                out.append((int(height), pos))
                if len(out) == limit:
                    return out
        return out

    # mempool persistence
    def mempool_put(self, txid: bytes, raw: bytes, added: float) -> None:
        self.mempool_put_many([(txid, raw, added)])

    def _pending_rows(self) -> dict[bytes, int]:
        """txid -> rowid of the stored mempool, read once and kept with each write."""
        if self._pending is None:
            self._pending = {bytes(t): int(r)
                             for r, t in self.db.execute("SELECT rowid, txid FROM mempool")}
        return self._pending

    def mempool_put_many(self, rows: list[tuple[bytes, bytes, float]]) -> None:
        rows = list({txid: (txid, raw, added) for txid, raw, added in rows}.values())
        if not rows:
            return
        pending = self._pending_rows()
        self.mempool_delete([txid for txid, _, _ in rows if txid in pending])
        self.db.executemany("INSERT INTO mempool VALUES(?,?,?)", rows)
        # SQLite gives each new row the largest rowid so far plus one, so this statement's
        # rows are the last len(rows) rowids, in order.
        (last,) = self.db.execute("SELECT max(rowid) FROM mempool").fetchone()
        first = int(last) - len(rows) + 1
        for i, (txid, _, _) in enumerate(rows):
            pending[txid] = first + i

    def mempool_delete(self, txids: Iterable[bytes]) -> None:
        pending = self._pending_rows()
        gone = [(pending.pop(t), t) for t in txids if t in pending]
        # The txid is checked too, so a map that were ever wrong could not delete another row.
        self.db.executemany("DELETE FROM mempool WHERE rowid=? AND txid=?", gone)

    def mempool_all(self) -> list[tuple[bytes, float]]:
        rows = self.db.execute("SELECT raw, added FROM mempool ORDER BY added")
        return [(bytes(r), float(a)) for r, a in rows]


def _entry(row: tuple[bytes, bytes, int, bytes, bytes, int]) -> HeaderEntry:
    h, prev, height, work, header, status = row
    return HeaderEntry(bytes(h), bytes(prev), int(height), blob_to_work(bytes(work)),
                       BlockHeader.decode(bytes(header)), int(status))
