"""A store that cannot write stops mining visibly, and mining resumes once it can write.

The database is made full for real: `PRAGMA max_page_count` on the ledger's own
writer connection makes SQLite answer SQLITE_FULL ("database or disk is full")
exactly as a full disk does, and raising it again frees the space. The block
that meets the full store carries enough payments to need new pages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import aiohttp
import pytest

from tests.builders import key, mine_on, pay, template_block, wait_for
from tuichain.core.errors import StorageError
from tuichain.core.ledger import Ledger
from tuichain.node import Node

from .conftest import StartNode


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@pytest.fixture
def node_log() -> Iterator[Lines]:
    """What reaches the "tuichain" logger, which node.log is written from."""
    handler = Lines()
    logger = logging.getLogger("tuichain")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


PAYER = key(7)


async def _fill_mempool(ledger: Ledger, count: int = 40) -> None:
    """Fund PAYER, then queue enough payments that the next block spans several pages."""
    await mine_on(ledger, PAYER.address_digest)
    for nonce in range(count):
        await ledger.submit_tx(pay(PAYER, bytes(20), 1000, nonce, memo=b"m" * 64), "test")


async def _set_full(ledger: Ledger, full: bool) -> None:
    def run() -> None:
        db = ledger.chain.store.db
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = int(db.execute("PRAGMA page_count").fetchone()[0])
        db.execute(f"PRAGMA max_page_count={pages if full else 2**30}")
    await ledger._write(run)  # the writer connection lives on the writer thread


async def test_ledger_reports_and_forgets_a_storage_error(start_node: StartNode) -> None:
    node = await start_node("n")
    ledger = node.ledger
    await _fill_mempool(ledger)
    await _set_full(ledger, True)
    block = await template_block(ledger, bytes(20))
    with pytest.raises(StorageError, match="full"):
        await ledger.submit_block(block)
    assert ledger.storage_error is not None
    assert "chain.sqlite3" in ledger.storage_error
    assert ledger.tip is not None
    assert ledger.tip.height == 1
    await _set_full(ledger, False)
    assert (await ledger.submit_block(block)).status == "connected"
    assert ledger.storage_error is None
    assert await ledger.supply() == ledger.params.supply_at(2)


async def _status(node: Node) -> dict[str, object]:
    async with aiohttp.ClientSession(node.listen_url) as s, s.get("/api/status") as r:
        assert r.status == 200
        body: dict[str, object] = await r.json()
        return body


async def test_mining_waits_for_a_full_store_and_resumes(start_node: StartNode,
                                                        node_log: Lines) -> None:
    node = await start_node("n")
    await node.create_wallet(None)
    node.mining.retry_max = 0.5
    await _fill_mempool(node.ledger)
    await _set_full(node.ledger, True)
    node.mining.start_continuous()

    await wait_for(lambda: node.status().error is not None, "the storage error in the status")
    status = await _status(node)
    assert "database or disk is full" in str(status["error"])
    assert status["mining"] is False
    stuck = node.ledger.tip.height if node.ledger.tip else -1
    # Retrying, with the error in the log, not dying quietly.
    await wait_for(lambda: sum("not stored" in line for line in node_log.lines) >= 3,
                   "the miner retrying the refused block")
    assert any(line.startswith("ERROR tuichain.core.ledger: storage error")
               for line in node_log.lines)
    assert node.ledger.tip is not None
    assert node.ledger.tip.height == stuck

    await _set_full(node.ledger, False)
    await wait_for(lambda: node.ledger.tip is not None and node.ledger.tip.height >= stuck + 3,
                   "mining to resume after space was freed", limit=60)
    status = await _status(node)
    assert status["error"] is None
    assert status["mining"] is True
    assert any("writable again" in line for line in node_log.lines)
    assert await node.ledger.supply() == node.params.supply_at(node.ledger.tip.height)
