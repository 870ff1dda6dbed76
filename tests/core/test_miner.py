"""The miner with real worker processes and real hashing (no mocks)."""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tuichain.core.block import BlockHeader
from tuichain.core.hashing import sha256d
from tuichain.core.mining import (
    AsyncMiner,
    MinerEvent,
    MinerPool,
    MinerProgress,
    MinerSolution,
    MiningJob,
)
from tuichain.core.mining.worker import CHUNK, _mine
from tuichain.core.pow import hash_meets_target, target_from_bits

REPO = Path(__file__).resolve().parents[2]
# One hash in 4096 meets this target: a real search, yet over in milliseconds.
EASY = (1 << 244) - 1
# Regtest-style bits: about every other hash meets it.
TRIVIAL_BITS = 0x207FFFFF
IMPOSSIBLE = 0


def template(seed: int = 0, bits: int = 0x1D00FFFF) -> BlockHeader:
    return BlockHeader(
        version=0x20000000,
        prev_hash=sha256d(b"prev %d" % seed),
        merkle_root=sha256d(b"merkle %d" % seed),
        time=1_700_000_000 + seed,
        bits=bits,
        nonce=0xDEADBEEF,
    )


@pytest.fixture
def make_pool() -> Iterator[Callable[..., MinerPool]]:
    pools: list[MinerPool] = []

    def make(workers: int = 1, progress_interval: float = 0.25) -> MinerPool:
        pool = MinerPool(workers, progress_interval)
        pools.append(pool)
        pool.start()
        return pool

    yield make
    for pool in pools:
        pool.close()


def wait_for(
    pool: MinerPool, pred: Callable[[MinerEvent], bool], timeout: float = 10.0
) -> tuple[MinerEvent, list[MinerEvent]]:
    """First event matching pred, and every event seen up to it."""
    seen: list[MinerEvent] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        event = pool.get_event(left)
        if event is None:
            continue
        seen.append(event)
        if pred(event):
            return event, seen
    raise AssertionError(f"no matching event within {timeout} s; saw {seen[-5:]}")


def collect(pool: MinerPool, seconds: float) -> list[MinerEvent]:
    events: list[MinerEvent] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        event = pool.get_event(left)
        if event is not None:
            events.append(event)
    return events


def is_solution(event: MinerEvent) -> bool:
    return isinstance(event, MinerSolution)


def hashing(job_id: int) -> Callable[[MinerEvent], bool]:
    def pred(event: MinerEvent) -> bool:
        return isinstance(event, MinerProgress) and event.job_id == job_id and event.hashes > 0

    return pred


def check_solution(solution: MinerSolution, job: MiningJob) -> None:
    got, tpl = solution.header, job.header
    assert solution.job_id == job.job_id
    assert hash_meets_target(sha256d(got.encoded), job.target)
    assert (got.version, got.prev_hash, got.merkle_root, got.bits) == (
        tpl.version,
        tpl.prev_hash,
        tpl.merkle_root,
        tpl.bits,
    )
    assert got.time >= tpl.time


def alive(pid: int) -> bool:
    """True while pid runs; a zombie waiting for a foreign reaper counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("target", [EASY, target_from_bits(TRIVIAL_BITS)], ids=["2^12", "bits"])
def test_solution_meets_target_and_keeps_template(
    make_pool: Callable[..., MinerPool], workers: int, target: int
) -> None:
    pool = make_pool(workers)
    job = MiningJob(7, template(bits=TRIVIAL_BITS), target)
    pool.submit(job)
    solution, _ = wait_for(pool, is_solution)
    assert isinstance(solution, MinerSolution)
    check_solution(solution, job)
    # Reported once, then every worker idles until the next template.
    idle, _ = wait_for(pool, lambda e: True, timeout=2.0)
    assert isinstance(idle, MinerProgress)
    assert idle.job_id is None
    assert idle.job_hashes >= 1
    time.sleep(0.05)
    before = pool.total_hashes
    assert not [e for e in collect(pool, 0.3) if is_solution(e)]
    assert pool.total_hashes == before


def test_two_workers_share_the_nonce_space(make_pool: Callable[..., MinerPool]) -> None:
    pool = make_pool(2)
    halves = set()
    for i in range(16):
        job = MiningJob(i, template(seed=i), EASY)
        pool.submit(job)
        solution, _ = wait_for(pool, is_solution)
        assert isinstance(solution, MinerSolution)
        check_solution(solution, job)
        halves.add(solution.header.nonce >> 31)
    # Worker 0 searches from nonce 0, worker 1 from 2^31; each wins half the
    # races, so missing one half 16 times in a row has odds of 2^-15.
    assert halves == {0, 1}


def test_time_rolls_forward_when_the_nonce_share_runs_out() -> None:
    # Run one worker's loop in-process as worker 0 of 2^20: its share is one
    # chunk of nonces, so a 2^-16 target needs about 16 time rolls.
    tpl = template(seed=3)
    target = (1 << 240) - 1
    generation, solved = ctypes.c_int64(1), ctypes.c_int64(0)
    counters = (ctypes.c_uint64 * 1)()
    reader, writer = multiprocessing.Pipe(duplex=False)
    assert _mine(
        0, 1 << 20, tpl.encoded, target, 1,
        generation, solved, threading.Lock(), counters, writer, os.getppid(),
    )  # fmt: skip
    assert reader.poll(0)
    kind, gen, nonce, htime = reader.recv()
    assert (kind, gen, solved.value) == ("solution", 1, 1)
    assert 0 <= nonce < CHUNK
    assert htime > tpl.time
    found = tpl.with_nonce(nonce, htime)
    assert hash_meets_target(found.hash, target)
    assert counters[0] == (htime - tpl.time) * CHUNK + nonce + 1


@pytest.mark.parametrize(
    ("current", "solved_gen"), [(2, 0), (1, 1)], ids=["replaced", "solved-elsewhere"]
)
@pytest.mark.parametrize("target", [IMPOSSIBLE, (1 << 256) - 1], ids=["hashing", "finding"])
def test_worker_drops_a_stale_or_solved_job(current: int, solved_gen: int, target: int) -> None:
    # Worker loop in-process on generation 1 while the shared state says the
    # job was replaced, or already solved by another worker: it stops after
    # one chunk and never reports a solution.
    generation, solved = ctypes.c_int64(current), ctypes.c_int64(solved_gen)
    counters = (ctypes.c_uint64 * 1)()
    reader, writer = multiprocessing.Pipe(duplex=False)
    assert _mine(
        0, 1, template().encoded, target, 1,
        generation, solved, threading.Lock(), counters, writer, os.getppid(),
    )  # fmt: skip
    assert not reader.poll(0)
    assert counters[0] == (CHUNK if target == IMPOSSIBLE else 1)
    assert solved.value == solved_gen


def test_submit_abandons_the_old_job(make_pool: Callable[..., MinerPool]) -> None:
    pool = make_pool(2)
    pool.submit(MiningJob(1, template(seed=1), IMPOSSIBLE))
    wait_for(pool, hashing(1))
    job = MiningJob(2, template(seed=2), EASY)
    t0 = time.monotonic()
    pool.submit(job)
    solution, _ = wait_for(pool, is_solution)
    # Workers still on job 1 could never solve job 2.
    assert time.monotonic() - t0 < 2.0
    assert isinstance(solution, MinerSolution)
    check_solution(solution, job)


def test_solutions_of_replaced_jobs_never_arrive(make_pool: Callable[..., MinerPool]) -> None:
    pool = make_pool(2)
    # Every hash meets these targets. Some jobs are replaced at once, racing
    # the workers; others are solved, the solution is waiting unread when the
    # next submit replaces the job. Neither kind may come out.
    for i in range(20):
        pool.submit(MiningJob(2 * i, template(seed=i), (1 << 256) - 1))
        if i % 2:
            time.sleep(0.02)
        pool.submit(MiningJob(2 * i + 1, template(seed=i), IMPOSSIBLE))
    last = MiningJob(100, template(seed=100), EASY)
    pool.submit(last)
    solution, seen = wait_for(pool, is_solution)
    assert [e.job_id for e in seen if isinstance(e, MinerSolution)] == [100]
    assert not [e for e in collect(pool, 0.3) if is_solution(e)]


def test_cancel_stops_hashing(make_pool: Callable[..., MinerPool]) -> None:
    pool = make_pool(2)
    pool.submit(MiningJob(1, template(), IMPOSSIBLE))
    wait_for(pool, hashing(1))
    pool.cancel()
    time.sleep(0.05)  # at most one chunk per worker is still in flight
    before = pool.total_hashes
    idle, _ = wait_for(pool, lambda e: isinstance(e, MinerProgress) and e.job_id is None, 2.0)
    assert isinstance(idle, MinerProgress)
    assert idle.rate == 0.0
    # No progress reports while idle, and no hashing either.
    assert pool.get_event(0.4) is None
    assert pool.total_hashes == before > 0


def test_progress_arrives_several_times_a_second(make_pool: Callable[..., MinerPool]) -> None:
    pool = make_pool(2)
    pool.submit(MiningJob(5, template(), IMPOSSIBLE))
    events = collect(pool, 1.1)
    progress = [e for e in events if isinstance(e, MinerProgress)]
    assert len(progress) == len(events) >= 3
    assert all(p.job_id == 5 and p.workers == 2 and p.rate > 0 for p in progress)
    hashes = [p.hashes for p in progress]
    assert hashes == sorted(hashes)
    assert hashes[-1] > hashes[0]
    assert all(p.job_hashes <= p.hashes for p in progress)


def test_set_workers_restarts_and_keeps_the_job(make_pool: Callable[..., MinerPool]) -> None:
    pool = make_pool(1, progress_interval=0.1)
    pool.submit(MiningJob(1, template(), IMPOSSIBLE))
    first, _ = wait_for(pool, hashing(1))
    assert isinstance(first, MinerProgress)
    pool.set_workers(2)
    assert pool.workers == 2
    assert len(multiprocessing.active_children()) == 2
    later, _ = wait_for(pool, lambda e: hashing(1)(e) and e.hashes > first.hashes + CHUNK)
    assert isinstance(later, MinerProgress)
    assert later.workers == 2
    pool.set_workers(1)
    assert len(multiprocessing.active_children()) == 1
    job = MiningJob(2, template(seed=2), EASY)
    pool.submit(job)
    solution, _ = wait_for(pool, is_solution)
    assert isinstance(solution, MinerSolution)
    check_solution(solution, job)


def test_a_killed_worker_is_replaced_on_the_next_submit(
    make_pool: Callable[..., MinerPool],
) -> None:
    pool = make_pool(1)
    (worker,) = multiprocessing.active_children()
    os.kill(worker.pid or 0, signal.SIGKILL)
    worker.join(5.0)
    job = MiningJob(1, template(), EASY)
    pool.submit(job)
    solution, _ = wait_for(pool, is_solution)
    assert isinstance(solution, MinerSolution)
    check_solution(solution, job)


def test_close_leaves_no_child_processes() -> None:
    pool = MinerPool(2)
    pool.start()
    pool.submit(MiningJob(1, template(), IMPOSSIBLE))
    wait_for(pool, hashing(1))
    pids = [p.pid for p in multiprocessing.active_children()]
    assert len(pids) == 2
    pool.close()
    pool.close()
    assert multiprocessing.active_children() == []
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert pool.get_event(0.1) is None
    with pytest.raises(RuntimeError):
        pool.submit(MiningJob(2, template(), EASY))


def test_workers_exit_when_the_parent_dies() -> None:
    script = (
        "import multiprocessing, time\n"
        "from tuichain.core.mining import MinerPool, MiningJob\n"
        "from tuichain.core.block import BlockHeader\n"
        "pool = MinerPool(2)\n"
        "pool.start()\n"
        "pool.submit(MiningJob(1, BlockHeader(1, bytes(32), bytes(32), 0, 0, 0), 0))\n"
        "print(*[p.pid for p in multiprocessing.active_children()], flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
        assert all(alive(pid) for pid in pids)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 5.0
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [pid for pid in pids if alive(pid)]
    for pid in survivors:  # do not leave orphans hashing after a failure
        os.kill(pid, signal.SIGKILL)
    assert not survivors


async def test_async_miner_delivers_events_in_the_loop() -> None:
    loop_thread = threading.get_ident()
    solutions: asyncio.Queue[MinerSolution] = asyncio.Queue()
    hashing_seen = asyncio.Event()
    threads: set[int] = set()

    def on_progress(progress: MinerProgress) -> None:
        threads.add(threading.get_ident())
        if progress.job_id == 1 and progress.rate > 0:
            hashing_seen.set()

    def on_solution(solution: MinerSolution) -> None:
        threads.add(threading.get_ident())
        solutions.put_nowait(solution)

    miner = AsyncMiner(workers=2, on_progress=on_progress, on_solution=on_solution)
    try:
        await miner.start()
        miner.submit(MiningJob(1, template(seed=1), IMPOSSIBLE))
        await asyncio.wait_for(hashing_seen.wait(), 10.0)
        job = MiningJob(2, template(seed=2), EASY)
        miner.submit(job)
        solution = await asyncio.wait_for(solutions.get(), 10.0)
        check_solution(solution, job)
        assert threads == {loop_thread}
    finally:
        await miner.close()
    assert multiprocessing.active_children() == []
