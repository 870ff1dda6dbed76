"""The write-ahead log is copied into the database file rarely, not every 1,000 pages
(SQLite's default, 13 % of a sync's writer time), and a log that large left behind by
a killed process is recovered whole; a clean close leaves no log behind."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from tests.builders import extend, genesis_link, import_all, open_chain
from tuichain.core.params import REGTEST
from tuichain.core.store.sqlite import _SCHEMA, SCHEMA_VERSION, SqliteStore

BLOCKS = 400
OLD_CHECKPOINT_BYTES = 1000 * 4096

WRITER = """
import sys, time
from pathlib import Path
from tuichain.core.block import Block
from tuichain.core.chainstate import ChainState
from tuichain.core.params import REGTEST
from tuichain.core.store import open_store

cs = ChainState(open_store(Path(sys.argv[1]), "regtest"), REGTEST)
data = Path(sys.argv[2]).read_bytes()
pos = 0
while pos < len(data):
    size = int.from_bytes(data[pos:pos + 4], "little")
    res = cs.process_block(Block.decode(data[pos + 4:pos + 4 + size]), now=int(sys.argv[3]))
    assert res.status == "connected", (res.status, res.error)
    pos += 4 + size
print(cs.tip.height, flush=True)
time.sleep(600)  # killed here: nothing closes the store
"""


def test_a_big_log_left_by_a_killed_writer_is_recovered_and_a_close_removes_it(
    tmp_path: Path,
) -> None:
    links = extend(REGTEST, genesis_link(), BLOCKS)
    blob = tmp_path / "blocks.bin"
    blob.write_bytes(b"".join(len(x.block.encoded).to_bytes(4, "little") + x.block.encoded
                              for x in links))
    db = tmp_path / "chain.sqlite3"
    wal = tmp_path / "chain.sqlite3-wal"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(blob),
                             str(links[-1].time + 10)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(BLOCKS)
        # Every block was its own commit, and all of them are still in the log only:
        # with SQLite's default, the log was copied into the file every 1,000 pages.
        assert wal.stat().st_size > 2 * OLD_CHECKPOINT_BYTES
        assert db.stat().st_size <= 4 * 4096, "the log was copied into the file"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    chain = open_chain(tmp_path)
    assert chain.tip.height == BLOCKS
    assert chain.tip.hash == links[-1].hash
    assert chain.store.chain_hash(BLOCKS // 2) == links[BLOCKS // 2 - 1].hash
    chain.store.close()
    assert not wal.exists()


def _page_size(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def _log_bytes_per_block(tmp_path: Path, blocks: int) -> tuple[int, float]:
    """Import `blocks` empty blocks one commit each; (page size, log bytes a block)."""
    chain = open_chain(tmp_path)
    try:
        import_all(chain, extend(REGTEST, genesis_link(), blocks))
        wal = tmp_path / "chain.sqlite3-wal"
        return _page_size(tmp_path / "chain.sqlite3"), wal.stat().st_size / blocks
    finally:
        chain.store.close()


def test_a_new_file_has_half_size_pages_and_a_block_writes_half_the_log(
    tmp_path: Path,
) -> None:
    new = tmp_path / "new"
    old = tmp_path / "old"
    old.mkdir()
    # A file made by an earlier tuichain: SQLite's default page size, schema and all.
    with closing(sqlite3.connect(old / "chain.sqlite3")) as conn:
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    assert _page_size(old / "chain.sqlite3") == 4096
    new_page, new_bytes = _log_bytes_per_block(new, 100)
    old_page, old_bytes = _log_bytes_per_block(old, 100)
    assert (new_page, old_page) == (2048, 4096)  # an existing file keeps its own
    # Each commit writes the pages it changed: about half the bytes in half-size pages.
    assert new_bytes < 0.65 * old_bytes, (new_bytes, old_bytes)
    # The log is copied into the file after the same number of bytes either way.
    for where, page in ((new, 2048), (old, 4096)):
        store = SqliteStore(where / "chain.sqlite3")
        try:
            pages = int(store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        finally:
            store.close()
        assert pages * page == 40 * 1024 * 1024
