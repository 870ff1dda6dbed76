"""The schema version lives in the database file; a file from a newer tuichain is refused."""

from __future__ import annotations

import logging
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import genesis_link, import_all, key, make_block, open_chain, pay
from tuichain.core.errors import CoreError, SchemaVersionError
from tuichain.core.hashing import hash_to_hex
from tuichain.core.ledger import DB_FILE, Ledger
from tuichain.core.params import REGTEST
from tuichain.core.store.sqlite import LEAD_BYTES, SCHEMA_VERSION, SqliteStore, _display_hex
from tuichain.core.store.sqlite_layout import unpack_positions


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _tables(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    finally:
        db.close()


async def test_a_new_database_carries_the_schema_version(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST)
    await ledger.close()
    assert _user_version(tmp_path / DB_FILE) == SCHEMA_VERSION >= 1


async def test_a_database_from_a_newer_tuichain_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaVersionError) as info:
        await Ledger.open(tmp_path, REGTEST)
    err = info.value
    assert isinstance(err, CoreError)
    assert (err.path, err.found, err.supported) == (path, SCHEMA_VERSION + 1, SCHEMA_VERSION)
    assert str(path) in err.reason
    assert f"version {SCHEMA_VERSION + 1}" in err.reason
    assert f"version {SCHEMA_VERSION} at most" in err.reason
    assert _tables(path) == []
    assert _user_version(path) == SCHEMA_VERSION + 1
    with pytest.raises(SchemaVersionError):
        SqliteStore(path, readonly=True)


def test_a_database_from_before_versions_were_written_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite3"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=0")
    db.close()
    store = SqliteStore(path)
    store.close()
    assert _user_version(path) == SCHEMA_VERSION
    assert "headers" in _tables(path)


# The schema-1 txindex as tuichain wrote it: keyed by the internal txid, beside an
# index on the display form's first four bytes for the explorer's search.
_SCHEMA_1_TXINDEX = """
DROP TABLE txindex;
CREATE TABLE txindex(txid BLOB PRIMARY KEY, block BLOB NOT NULL, pos INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE INDEX txindex_lead ON txindex({lead});
"""
# Schema 2: keyed in display order, naming the block by hash.
_SCHEMA_2_TXINDEX = """
DROP TABLE txindex;
CREATE TABLE txindex(display_txid BLOB PRIMARY KEY, block BLOB NOT NULL, pos INTEGER NOT NULL)
    WITHOUT ROWID;
"""


@pytest.mark.parametrize("schema", [1, 2])
def test_an_older_txindex_is_rewritten_in_display_order_by_height(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, schema: int
) -> None:
    path = tmp_path / "chain.sqlite3"
    miner = key(1)
    first = make_block(REGTEST, genesis_link(), miner=miner.address_digest)
    payment = pay(miner, key(2).address_digest, 10**8, 0)
    links = [first, make_block(REGTEST, first, [payment])]
    chain = open_chain(path)
    import_all(chain, links)
    txids = [tx.txid for link in [genesis_link(), *links] for tx in link.block.txs]
    located = {t: chain.store.tx_location(t) for t in txids}
    chain.store.close()
    assert located[payment.txid] == (links[1].hash, 1)
    assert len(located) == 4  # three coinbases and the payment
    assert None not in located.values()
    db = sqlite3.connect(path)
    if schema == 1:
        db.executescript(_SCHEMA_1_TXINDEX.format(lead=_display_hex("txid", LEAD_BYTES)))
        db.executemany("INSERT INTO txindex VALUES(?,?,?)",
                       [(t, *where) for t, where in located.items() if where is not None])
    else:
        db.executescript(_SCHEMA_2_TXINDEX)
        db.executemany("INSERT INTO txindex VALUES(?,?,?)",
                       [(t[::-1], *where) for t, where in located.items() if where is not None])
    db.execute(f"PRAGMA user_version={schema}")
    db.commit()
    db.close()

    with caplog.at_level(logging.INFO, logger="tuichain.core.store.sqlite_layout"):
        store = SqliteStore(path)
    # The pause it makes at start-up is said, with its size, before it begins.
    said = [r.getMessage() for r in caplog.records]
    assert any("rewriting the transaction index (4 rows)" in m for m in said), said
    try:
        assert {t: store.tx_location(t) for t in located} == located
        shown = hash_to_hex(payment.txid)
        assert store.find_prefix("txindex", shown[:7]) == [payment.txid]
        assert store.find_prefix("txindex", shown[:1], 9) == sorted(
            (t for t in located if hash_to_hex(t)[0] == shown[0]), key=hash_to_hex)
    finally:
        store.close()
    assert _user_version(path) == SCHEMA_VERSION
    db = sqlite3.connect(path)
    try:
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        columns = {r[1] for r in db.execute("PRAGMA table_info(txindex)")}
    finally:
        db.close()
    assert "txindex_lead" not in indexes
    assert columns == {"display_txid", "height", "pos"}


# The schema-2 address history: one row for each account a transaction touches.
_SCHEMA_2_HISTORY = """
DROP TABLE history;
CREATE TABLE history(
    address BLOB NOT NULL, height INTEGER NOT NULL, pos INTEGER NOT NULL, txid BLOB NOT NULL,
    PRIMARY KEY(address, height, pos)
) WITHOUT ROWID;
"""


def _as_schema_2_history(path: Path, rows: list[tuple[bytes, int, int, bytes]]) -> None:
    """Give the file at `path` a schema-2 history holding `rows`."""
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA_2_HISTORY)
    db.executemany("INSERT INTO history VALUES(?,?,?,?)", rows)
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()


def test_a_schema_2_history_is_rewritten_one_row_an_account_and_height(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "chain.sqlite3"
    alice, bob = key(1), key(2)
    first = make_block(REGTEST, genesis_link(), miner=alice.address_digest)
    payments = [pay(alice, bob.address_digest, 10**8, n) for n in range(3)]
    links = [first, make_block(REGTEST, first, payments, miner=bob.address_digest)]
    chain = open_chain(path)
    import_all(chain, links)
    chain.store.close()
    blocks = {1: links[0].block, 2: links[1].block}
    # The rows schema 2 held: (address, height, position, txid) for every account touched.
    old = [(tx.sender_address, h, pos, tx.txid) for h, b in blocks.items()
           for pos, tx in enumerate(b.txs) if not tx.is_coinbase]
    old += [(tx.recipient, h, pos, tx.txid) for h, b in blocks.items()
            for pos, tx in enumerate(b.txs)]
    _as_schema_2_history(path, old)

    with caplog.at_level(logging.INFO, logger="tuichain.core.store.sqlite_layout"):
        store = SqliteStore(path)
    said = [r.getMessage() for r in caplog.records]
    assert any(f"rewriting the address history ({len(old)} rows)" in m for m in said), said
    try:
        for who in (alice.address_digest, bob.address_digest):
            mine = sorted(((h, p) for a, h, p, _ in old if a == who), reverse=True)
            assert store.history(who, 50) == mine
            assert store.history(who, 2, before_height=3) == mine[:2]
        # Alice's three payments and Bob's coinbase with them are one row each.
        assert store.db.execute("SELECT count(*) FROM history WHERE height=2").fetchone()[0] == 2
    finally:
        store.close()
    assert _user_version(path) == SCHEMA_VERSION
    db = sqlite3.connect(path)
    try:
        assert "txid" not in {r[1] for r in db.execute("PRAGMA table_info(history)")}
    finally:
        db.close()


# Opens the file (so upgrades it) with the upgrade's log on stderr.
_OPENER = """
import logging, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from tuichain.core.store.sqlite import SqliteStore
SqliteStore(Path(sys.argv[1])).close()
"""


def _history_entries(path: Path) -> set[tuple[bytes, int, int]]:
    db = sqlite3.connect(path)
    try:
        return {(bytes(a), int(h), p) for a, h, blob in
                db.execute("SELECT address, height, positions FROM history")
                for p in unpack_positions(bytes(blob))}
    finally:
        db.close()


def test_a_kill_during_the_history_rewrite_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite3"
    chain = open_chain(path)
    import_all(chain, [make_block(REGTEST, genesis_link(), miner=key(1).address_digest)])
    chain.store.close()
    # Enough schema-2 rows that the rewrite takes a while: 3,000 accounts at 20 heights.
    old = [(b"%020d" % a, h, p, bytes(32)) for a in range(3_000) for h in range(20)
           for p in (h % 3, h % 3 + 5)]
    _as_schema_2_history(path, old)

    proc = subprocess.Popen([sys.executable, "-c", _OPENER, str(path)],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "rewriting the address history" in line:
            proc.send_signal(signal.SIGKILL)
            break
    assert proc.wait(timeout=60) == -signal.SIGKILL
    # Killed inside the rewrite's transaction: the file still has the old table.
    db = sqlite3.connect(path)
    try:
        assert "txid" in {r[1] for r in db.execute("PRAGMA table_info(history)")}
    finally:
        db.close()

    SqliteStore(path).close()  # the next open does the whole rewrite
    assert _history_entries(path) == {(a, h, p) for a, h, p, _ in old}
    assert _user_version(path) == SCHEMA_VERSION
