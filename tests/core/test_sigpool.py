"""Signature checks in worker processes: started on first need, outcomes recorded
both ways, a lost worker costs nothing but its share (the writer checks what the
cache lacks), and no worker outlives its node, closed or killed."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.builders import funded, key, paid_line, pay, wait_for
from tuichain.core.errors import ValidationError
from tuichain.core.ledger import SYNC_BACKLOG, Ledger
from tuichain.core.params import REGTEST
from tuichain.core.rejections import Code
from tuichain.core.sigcache import SigCache
from tuichain.core.sigpool import MAX_LOSSES, SigPool
from tuichain.core.tx import Transaction


def _payments(n: int, forge_every: int = 0) -> list[Transaction]:
    txs = [pay(key(1 + i % 20), bytes([7]) * 20, 10 + i, i // 20) for i in range(n)]
    if forge_every:
        txs = [dataclasses.replace(t, amount=t.amount + 1) if i % forge_every == 3 else t
               for i, t in enumerate(txs)]
    return txs


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its new parent has not reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _maps(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as f:
        return f.read()


async def _ready(pool: SigPool, count: int = 2) -> None:
    assert pool.check([], 1) is None or pool.ready  # asks for the workers
    await wait_for(lambda: len(pool.pids) == count, "the signature workers")


async def test_workers_start_on_first_need_and_record_both_outcomes() -> None:
    cache = SigCache()
    pool = SigPool(2, cache)
    try:
        txs = _payments(100, forge_every=7)
        assert pool.check(txs, 16) is None  # none up yet: the caller uses threads
        await _ready(pool)
        assert len(set(pool.pids)) == 2
        checks = pool.check(txs, 16)
        assert checks is not None
        await asyncio.wait_for(checks, 30)
        assert pool.checked == len(txs) == cache.misses
        assert cache.unchecked(txs) == []
        forged = [t for i, t in enumerate(txs) if i % 7 == 3]
        assert [t for t in txs if t.txid not in cache] == forged
    finally:
        await pool.close()


async def test_a_pool_for_one_core_starts_no_process() -> None:
    pool = SigPool(1, SigCache())
    assert pool.check(_payments(64), 16) is None
    assert await pool.started() is False
    await asyncio.sleep(0.5)
    assert pool.check(_payments(64), 16) is None
    assert not pool.ready
    assert pool.pids == []
    await pool.close()


async def test_started_waits_until_every_worker_answers() -> None:
    pool = SigPool(2, SigCache())
    try:
        assert await pool.started() is True
        assert all(w.items == 0 and not w.pending for w in pool._workers)  # pinged, answered
        for pid in pool.pids:  # past its imports: libsodium is loaded
            assert "sodium" in _maps(pid)
    finally:
        await pool.close()
    assert await pool.started() is False  # closed: never again


async def test_a_lost_worker_costs_its_share_and_is_replaced_until_the_pool_gives_up() -> None:
    cache = SigCache()
    pool = SigPool(2, cache)
    try:
        await _ready(pool)
        txs = _payments(600)
        first = pool.pids[0]
        checks = pool.check(txs, 16)
        assert checks is not None
        os.kill(first, signal.SIGKILL)  # long before its 300 checks are done
        await asyncio.wait_for(checks, 30)  # done all the same
        left = cache.unchecked(txs)
        assert 0 < len(left) < len(txs)  # the other worker's share is in the cache
        assert all(t.txid in cache for t in txs if t not in left)
        await wait_for(lambda: len(pool.pids) == 2 and first not in pool.pids,
                       "a worker in place of the lost one")
        # Lost again and again: from MAX_LOSSES on, threads only, and no process left.
        for _ in range(MAX_LOSSES - 1):
            await wait_for(lambda: len(pool.pids) == 2, "the workers back")
            victim = pool.pids[0]
            os.kill(victim, signal.SIGKILL)
            await wait_for(lambda: victim not in pool.pids, "the loss noticed")  # noqa: B023
        await asyncio.sleep(0.5)
        assert len(pool.pids) == 1  # no replacement for the last one lost
    finally:
        await pool.close()
    assert pool.pids == []
    assert pool.check(txs, 16) is None


async def test_admission_through_the_workers_refuses_exactly_the_forged(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST)
    try:
        for link in funded([key(1 + i) for i in range(20)]):
            await ledger.submit_block(link.block)
        await _ready(ledger.sigpool, len(ledger.sigpool.pids) or ledger.sigpool.count)
        txs = _payments(400, forge_every=9)
        answers = await asyncio.gather(*(ledger.queue_tx(t) for t in txs),
                                       return_exceptions=True)
        refused = [(i, a.code) for i, a in enumerate(answers) if isinstance(a, ValidationError)]
        # A forged payment is refused; the same sender's later nonces then skip ahead.
        first_forged: dict[bytes, int] = {}
        for i, t in enumerate(txs):
            if i % 9 == 3:
                first_forged.setdefault(t.sender, i)
        expected = {i for i, t in enumerate(txs) if i >= first_forged.get(t.sender, len(txs))}
        assert {i for i, _ in refused} == expected
        assert {code for i, code in refused if i % 9 == 3} == {Code.BAD_SIGNATURE}
        assert ledger.mempool_size == len(txs) - len(expected)
        assert ledger.sigpool.checked > 0  # the workers did checks, not only the threads
        pids = ledger.sigpool.pids
    finally:
        await ledger.close()
    assert pids
    assert all(_gone(pid) for pid in pids)


async def test_a_backlog_of_small_blocks_starts_the_workers_and_they_check_them(
        tmp_path: Path) -> None:
    payers = [key(1 + i) for i in range(10)]
    base = funded(payers)
    line = paid_line(REGTEST, base[-1], 60, payers, {}, 5, to=bytes([9]) * 20)
    ledger = await Ledger.open(tmp_path, REGTEST)
    try:
        for link in base:
            await ledger.submit_block(link.block)
        first = [ledger.queue_block(link.block) for link in line[:SYNC_BACKLOG + 2]]
        assert ledger.sigpool.pids == []  # blocks of 5: no round big enough on its own
        await asyncio.gather(*first)
        await wait_for(lambda: ledger.sigpool.ready, "the workers a backlog started")
        before = ledger.sigpool.checked
        # Queued in one loop turn: their payments go to the workers as joint rounds.
        results = await asyncio.gather(*(ledger.queue_block(link.block)
                                         for link in line[SYNC_BACKLOG + 2:]))
        assert {r.status for r in results} == {"connected"}
        assert ledger.tip.hash == line[-1].hash
        assert ledger.sigpool.checked - before == 5 * (len(line) - SYNC_BACKLOG - 2)
    finally:
        await ledger.close()


SCRIPT = """
import asyncio, sys
from pathlib import Path
from tuichain.core.ledger import SYNC_BACKLOG, Ledger
from tuichain.core.params import REGTEST

async def main():
    ledger = await Ledger.open(Path(sys.argv[1]), REGTEST)
    ledger.sigpool.check([], 1)
    while len(ledger.sigpool.pids) < ledger.sigpool.count:
        await asyncio.sleep(0.02)
    print(*ledger.sigpool.pids, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="workers need two cores")
def test_a_killed_node_leaves_no_signature_worker_behind(tmp_path: Path) -> None:
    node = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert node.stdout is not None
        pids = [int(p) for p in node.stdout.readline().split()]
        assert len(pids) == 2
        assert not any(_gone(p) for p in pids)
    finally:
        node.send_signal(signal.SIGKILL)
        node.wait(30)
    deadline = time.monotonic() + 20
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(p) for p in pids)


async def test_a_stopped_worker_is_lost_after_the_stall_limit_and_its_checks_released() -> None:
    cache = SigCache()
    pool = SigPool(2, cache, stall_seconds=0.5)
    try:
        assert await pool.started()
        stuck = pool.pids[0]
        os.kill(stuck, signal.SIGSTOP)
        txs = _payments(40)
        checks = [pool._send(w, txs[i::2]) for i, w in enumerate(pool._workers)]
        await asyncio.wait_for(asyncio.gather(*checks), 10)  # not waiting forever
        left = cache.unchecked(txs)
        assert left == txs[0::2]  # the stopped one's share, unchecked; the other's in
        await wait_for(lambda: len(pool.pids) == 2 and stuck not in pool.pids,
                       "a worker in place of the stopped one")
        await wait_for(lambda: _gone(stuck), "the stopped worker killed")
    finally:
        await pool.close()
