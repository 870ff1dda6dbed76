"""Upgrades of an older SQLite chain file's layout, made once when it is opened.

Each upgrade looks at the file itself (a table's definition or columns), not at the
schema version, so a file an older tuichain wrote to again after an upgrade is
brought back into line the next time.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

log = logging.getLogger(__name__)

Transaction = Callable[[], AbstractContextManager[None]]

# The stored mempool is a rowid table in arrival order with no index on the txid: each
# admission appends, where a table keyed by random txids dirtied a page of its own per
# row (a batch of 256 wrote about 1 MB of WAL at 50,000 pending). The writer finds a
# row by txid through the map `SqliteStore._pending` holds; the data directory's lock
# makes it the table's only writer. An older tuichain can still read and write this
# layout (its INSERT OR REPLACE appends, so duplicates are merged at open).
_OLD_MEMPOOL = "WITHOUT ROWID"
_MEMPOOL_ROWS = """
CREATE TABLE mempool_rows(txid BLOB NOT NULL, raw BLOB NOT NULL, added REAL NOT NULL);
INSERT INTO mempool_rows SELECT txid, raw, added FROM mempool ORDER BY added;
DROP TABLE mempool;
ALTER TABLE mempool_rows RENAME TO mempool;
"""

# The txindex gets one row per transaction, the most of any table. Keyed by the txid in
# internal order it needed a second index of the display form's lead bytes for the
# explorer's search: two trees of random keys, and each commit of a big block rewrote
# pages all over both (37 us a row against 17 at 100,000 rows, measured). Keyed by the
# display order, its primary key is that search's range. It names the block by height,
# not by hash: the index holds the active chain only, whose `chain` table maps height
# to hash, and rows 30 bytes smaller cost 5.2 us an insert against 7.1 (measured on
# 2,048-byte pages). Schema-1 and schema-2 files are rewritten.
_TXINDEX_ROWS = """
CREATE TABLE txindex_rows(
    display_txid BLOB PRIMARY KEY, height INTEGER NOT NULL, pos INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR REPLACE INTO txindex_rows SELECT {key}, h.height, t.pos
    FROM txindex t JOIN headers h ON h.hash = t.block;
DROP TABLE txindex;
ALTER TABLE txindex_rows RENAME TO txindex;
"""


# The address history holds one row per account and height, its positions in that
# block packed in one blob, not one row per account and transaction with the txid:
# the txid is in the block, which a history read decodes anyway. A 1,000-payment block
# of 50 accounts was 2,000 rows (13 us a payment of the writer's 35, measured) and is
# 50; a block that touches each account once is as many rows as before, a third the
# size. Schema-2 files are rewritten.
_HISTORY_ROWS = """
CREATE TABLE history_rows(
    address BLOB NOT NULL, height INTEGER NOT NULL, positions BLOB NOT NULL,
    PRIMARY KEY(address, height)
) WITHOUT ROWID
"""
_POSITION = struct.Struct(">I")


def pack_positions(positions: list[int]) -> bytes:
    if len(positions) == 1:
        return _POSITION.pack(positions[0])
    return struct.pack(f">{len(positions)}I", *positions)


def unpack_positions(data: bytes) -> tuple[int, ...]:
    """A history row's positions, ascending; an empty tuple for a damaged blob."""
    if len(data) % 4:
        return ()
    return struct.unpack(f">{len(data) // 4}I", data)


def history_rows(rows: Iterable[tuple[bytes, int, int, bytes]]) -> list[tuple[bytes, int, bytes]]:
    """(address, height, position, txid) rows, positions ascending within a block, as
    the history table's (address, height, positions) rows."""
    groups: dict[tuple[bytes, int], list[int]] = {}
    get = groups.get
    for address, height, pos, _ in rows:
        key = (address, height)
        found = get(key)
        if found is None:
            groups[key] = [pos]
        else:
            found.append(pos)
    return [(address, height, pack_positions(positions))
            for (address, height), positions in groups.items()]


def upgrade_layout(db: sqlite3.Connection, transaction: Transaction, path: Path) -> None:
    """Bring an older file's tables to this version's layout, each in one transaction."""
    _mempool_layout(db, transaction)
    _txindex_layout(db, transaction, path)
    _history_layout(db, transaction, path)


def _run(db: sqlite3.Connection, script: str) -> None:
    for statement in script.strip().split(";\n"):
        db.execute(statement)


def _mempool_layout(db: sqlite3.Connection, transaction: Transaction) -> None:
    """Move an older file's mempool to arrival order; merge duplicate rows."""
    (table,) = db.execute(
        "SELECT sql FROM sqlite_master WHERE type='table' AND name='mempool'").fetchone()
    with transaction():
        if _OLD_MEMPOOL in str(table).upper():
            _run(db, _MEMPOOL_ROWS)
        db.execute("DELETE FROM mempool WHERE rowid NOT IN "
                   "(SELECT max(rowid) FROM mempool GROUP BY txid)")


def _txindex_layout(db: sqlite3.Connection, transaction: Transaction, path: Path) -> None:
    """Rewrite an older txindex (schema 1: keyed by the internal txid; schema 2: naming
    the block by hash) keyed in display order, naming the block by height."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(txindex)")}
    if "height" in columns:
        return
    (rows,) = db.execute("SELECT count(*) FROM txindex").fetchone()
    # About 16 us a row on our machines: a long chain's start pauses here, once.
    log.warning("%s: rewriting the transaction index (%d rows) in the new layout, once; "
                "start-up waits for it", path, rows)
    db.create_function("tuichain_reversed", 1, _reversed, deterministic=True)
    key = "tuichain_reversed(t.txid)" if "txid" in columns else "t.display_txid"
    with transaction():
        _run(db, _TXINDEX_ROWS.format(key=key))
    log.info("%s: transaction index rewritten", path)


def _reversed(data: bytes) -> bytes:
    return bytes(data)[::-1]


def _history_layout(db: sqlite3.Connection, transaction: Transaction, path: Path) -> None:
    """Rewrite a schema-2 history (a row per account and transaction) as one row per
    account and height."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(history)")}
    if "txid" not in columns:
        return
    (rows,) = db.execute("SELECT count(*) FROM history").fetchone()
    log.warning("%s: rewriting the address history (%d rows) in the new layout, once; "
                "start-up waits for it", path, rows)
    with transaction():
        db.execute(_HISTORY_ROWS)
        old = db.execute("SELECT address, height, pos FROM history ORDER BY address, height, pos")
        db.executemany("INSERT INTO history_rows VALUES(?,?,?)", _grouped(old))
        db.execute("DROP TABLE history")
        db.execute("ALTER TABLE history_rows RENAME TO history")
    log.info("%s: address history rewritten", path)


def _grouped(rows: Iterable[tuple[bytes, int, int]]) -> Iterator[tuple[bytes, int, bytes]]:
    for (address, height), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
        yield address, height, pack_positions([int(r[2]) for r in group])
