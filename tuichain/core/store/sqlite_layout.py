"""Upgrades of an older SQLite chain file's layout, made once when it is opened.

Each upgrade looks at the file itself (a table's definition or columns), not at the
schema version, so a file an older tuichain wrote to again after an upgrade is
brought back into line the next time.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
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
# display order, its primary key is that search's range. Schema-1 files are rewritten.
_TXINDEX_ROWS = """
CREATE TABLE txindex_rows(
    display_txid BLOB PRIMARY KEY, block BLOB NOT NULL, pos INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR REPLACE INTO txindex_rows SELECT tuichain_reversed(txid), block, pos FROM txindex;
DROP TABLE txindex;
ALTER TABLE txindex_rows RENAME TO txindex;
"""


def upgrade_layout(db: sqlite3.Connection, transaction: Transaction, path: Path) -> None:
    """Bring an older file's tables to this version's layout, each in one transaction."""
    _mempool_layout(db, transaction)
    _txindex_layout(db, transaction, path)


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
    """Rewrite a schema-1 txindex (keyed by the internal txid) in display order."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(txindex)")}
    if "txid" not in columns:
        return
    (rows,) = db.execute("SELECT count(*) FROM txindex").fetchone()
    # About 16 us a row on our machines: a long chain's start pauses here, once.
    log.warning("%s: rewriting the transaction index (%d rows) in the new layout, once; "
                "start-up waits for it", path, rows)
    db.create_function("tuichain_reversed", 1, _reversed, deterministic=True)
    with transaction():
        _run(db, _TXINDEX_ROWS)
    log.info("%s: transaction index rewritten", path)


def _reversed(data: bytes) -> bytes:
    return bytes(data)[::-1]
