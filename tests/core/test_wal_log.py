"""The write-ahead log is copied into the database file rarely, not every 1,000 pages
(SQLite's default, 13 % of a sync's writer time), and a log that large left behind by
a killed process is recovered whole; a clean close leaves no log behind."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.builders import extend, genesis_link, open_chain
from tuichain.core.params import REGTEST

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
