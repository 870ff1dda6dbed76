"""Proof of work in worker processes: the pool the parent drives (adapter.py puts it on asyncio).

Hashing never runs in the event loop or in a thread: hashlib holds the GIL for
80-byte inputs, so a thread would freeze the UI. Workers are processes from a
"spawn" context, which is safe when the parent already runs threads and an
asyncio loop (fork would copy locks held by other threads).

How the pieces talk:

- one job pipe per worker, parent -> worker: ``(generation, header80, target)``
  to hash, ``(generation, None, 0)`` to go idle, ``None`` to exit;
- one shared results pipe, workers -> parent: solutions and crash reports. Every
  message is far below PIPE_BUF, so each send is a single atomic write and the
  workers need no lock to share the pipe;
- shared memory: the job generation (bumped by the parent before it sends a job,
  read by workers after every chunk, so they abandon stale work within one chunk),
  the last solved generation (first solution wins), and one hash counter per
  worker (each worker writes only its own slot, the parent sums them).

Progress events are computed on the parent side inside ``get_event``, from the
shared counters, so nothing piles up when nobody reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..pow import hash_meets_target
from .worker import _JobMessage, _worker_main

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnProcess
    from types import TracebackType

    from ..block import BlockHeader

# The rate in a progress event is measured over about this many seconds.
RATE_WINDOW: Final = 2.0
# get_event never blocks longer than this in one wait, so a missed wake-up or a
# pool closed under it costs at most this much latency.
_MAX_WAIT: Final = 1.0
_READY_TIMEOUT: Final = 60.0
_JOIN_TIMEOUT: Final = 2.0


@dataclass(frozen=True)
class MiningJob:
    """A template to mine: the header's nonce is ignored, its time may be rolled."""

    job_id: int
    header: BlockHeader
    target: int

    def __post_init__(self) -> None:
        if self.target < 0:
            raise ValueError("a target is a non-negative integer")


@dataclass(frozen=True)
class MinerProgress:
    """Hash counts and rate; ``job_hashes`` is for the last job while idle."""

    job_id: int | None
    hashes: int
    job_hashes: int
    rate: float
    workers: int


@dataclass(frozen=True)
class MinerSolution:
    """A header whose hash meets the job's target (nonce and time may differ)."""

    job_id: int
    header: BlockHeader


MinerEvent = MinerProgress | MinerSolution


# --------------------------------------------------------------------------
# Parent side.


def _ensure_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with a stderr it can pass on.

    The tracker's process inherits ``sys.stderr.fileno()``; a host that swaps
    sys.stderr for an object whose fileno() is -1 (Textual does while its app
    runs) makes that spawn, and so the first Lock, fail with "bad value(s) in
    fds_to_keep". Borrowing the real stderr for that one start avoids it.
    """
    from multiprocessing import resource_tracker

    stderr = sys.stderr
    try:
        usable = stderr is not None and stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        usable = False
    if usable or sys.__stderr__ is None:
        return
    sys.stderr = sys.__stderr__
    try:
        resource_tracker.ensure_running()
    finally:
        sys.stderr = stderr


class MinerPool:
    """Worker processes hashing one job at a time; read events with ``get_event``.

    Control methods (start, submit, cancel, set_workers, close) may be called
    from any thread; ``get_event`` is for one reader thread at a time.
    """

    def __init__(self, workers: int = 1, progress_interval: float = 0.25) -> None:
        if workers < 1:
            raise ValueError("a miner needs at least one worker")
        if progress_interval <= 0:
            raise ValueError("progress_interval must be positive")
        _ensure_resource_tracker()
        self._ctx = multiprocessing.get_context("spawn")
        self._n = workers
        self._interval = progress_interval
        # _control serialises the control methods; _state guards what get_event
        # shares with them and is only held briefly; _reading admits one reader.
        self._control = threading.RLock()
        self._state = threading.Lock()
        self._reading = threading.Lock()
        self._generation: ctypes.c_int64 = self._ctx.RawValue(ctypes.c_int64, 0)
        self._solved: ctypes.c_int64 = self._ctx.RawValue(ctypes.c_int64, 0)
        self._claim_lock = self._ctx.Lock()
        self._procs: list[SpawnProcess] = []
        self._job_conns: list[Connection] = []
        self._counters: ctypes.Array[ctypes.c_uint64] | None = None
        self._results_r: Connection | None = None
        self._results_w: Connection | None = None
        self._started = False
        self._closed = False
        # Fields below are guarded by _state.
        self._gen = 0
        self._base_hashes = 0  # hashes of workers replaced by set_workers
        self._job: MiningJob | None = None
        self._job_gen = 0
        self._job_start_hashes = 0
        self._last_job_hashes = 0
        self._samples: deque[tuple[float, int]] = deque()
        self._next_tick = 0.0
        self._idle_pending = False
        self._waiting = False
        self.last_error: str | None = None
        """Traceback text of the last worker crash, if any."""

    # -- control ---------------------------------------------------------

    @property
    def workers(self) -> int:
        return self._n

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def total_hashes(self) -> int:
        """Hashes since the pool started, all workers, read now."""
        with self._state:
            return self._total_locked()

    def start(self) -> None:
        with self._control:
            if self._closed:
                raise RuntimeError("the miner pool is closed")
            if self._started:
                return
            self._results_r, self._results_w = self._ctx.Pipe(duplex=False)
            try:
                self._spawn(self._n)
            except BaseException:
                self._results_r.close()
                self._results_w.close()
                self._results_r = self._results_w = None
                raise
            self._started = True

    def submit(self, job: MiningJob) -> None:
        header = job.header.encoded
        with self._control:
            self._require_running()
            if len(self._procs) != self._n or any(p.exitcode is not None for p in self._procs):
                # A worker was killed (OOM killer, a stray kill) or a resize
                # failed half-way: the next template brings up a full set again.
                self._stop_workers()
                self._spawn(self._n)
            with self._state:
                gen = self._bump_locked()
                total = self._total_locked()
                if self._job is None:
                    # Idle until now: a fresh rate window, first report one
                    # interval from now.
                    now = time.monotonic()
                    self._samples.clear()
                    self._samples.append((now, total))
                    self._next_tick = now + self._interval
                self._job = job
                self._job_gen = gen
                self._job_start_hashes = total
                # A pending "went idle" report is stale now that we hash again.
                self._idle_pending = False
            self._send_all((gen, header, job.target))
            self._wake()

    def cancel(self) -> None:
        with self._control:
            if not self._started or self._closed:
                return
            with self._state:
                gen = self._bump_locked()
                if self._job is not None:
                    self._go_idle_locked()
            self._send_all((gen, None, 0))
            self._wake()

    def set_workers(self, n: int) -> None:
        if n < 1:
            raise ValueError("a miner needs at least one worker")
        with self._control:
            if n == self._n:
                return
            self._n = n
            if not self._started or self._closed:
                return
            with self._state:
                self._bump_locked()  # old workers drop their job at once
            self._stop_workers()
            self._spawn(n)
            with self._state:
                job = self._job
                if job is not None:
                    gen = self._bump_locked()
                    self._job_gen = gen
            if job is not None:
                self._send_all((gen, job.header.encoded, job.target))

    def close(self) -> None:
        with self._control:
            if self._closed:
                return
            with self._state:
                self._closed = True
                if self._started:
                    self._bump_locked()
                self._job = None
            if not self._started:
                return
            self._stop_workers()
            self._wake()
            # A reader inside get_event sees _closed within one wait; only then
            # may the pipe it polls be closed.
            with self._reading:
                for conn in (self._results_r, self._results_w):
                    if conn is not None:
                        conn.close()
                self._results_r = self._results_w = None

    def __enter__(self) -> MinerPool:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- events ----------------------------------------------------------

    def get_event(self, timeout: float | None) -> MinerEvent | None:
        """Next solution or progress report; None on timeout or once closed.

        Solutions come first; a progress report is due every progress_interval
        while hashing, and one more when the pool goes idle.
        """
        if not self._started:
            raise RuntimeError("start() the miner pool first")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._reading:
            results = self._results_r
            if results is None:
                return None
            while True:
                while results.poll(0):
                    event = self._handle(results.recv())
                    if event is not None:
                        return event
                now = time.monotonic()
                with self._state:
                    self._waiting = False
                    if self._closed:
                        return None
                    if self._idle_pending:
                        self._idle_pending = False
                        return self._progress_locked(now)
                    if self._job is not None and now >= self._next_tick:
                        self._next_tick += self._interval
                        if self._next_tick <= now:  # the reader fell behind
                            self._next_tick = now + self._interval
                        return self._progress_locked(now)
                    wait = _MAX_WAIT
                    if self._job is not None:
                        wait = min(wait, self._next_tick - now)
                    if deadline is not None:
                        if now >= deadline:
                            return None
                        wait = min(wait, deadline - now)
                    self._waiting = True
                results.poll(wait)

    # -- internals -------------------------------------------------------

    def _require_running(self) -> None:
        if self._closed:
            raise RuntimeError("the miner pool is closed")
        if not self._started:
            raise RuntimeError("start() the miner pool first")

    def _spawn(self, n: int) -> None:
        assert self._results_w is not None
        counters = self._ctx.RawArray(ctypes.c_uint64, n)
        ready = self._ctx.RawArray(ctypes.c_uint8, n)
        procs: list[SpawnProcess] = []
        conns: list[Connection] = []
        for i in range(n):
            reader, writer = self._ctx.Pipe(duplex=False)
            proc = self._ctx.Process(
                target=_worker_main,
                args=(
                    i, n, reader, self._results_w, self._generation, self._solved,
                    self._claim_lock, counters, ready, os.getpid(),
                ),
                name=f"tuichain-miner-{i}",
                daemon=True,
            )  # fmt: skip
            proc.start()
            # The child holds its own copy; dropping ours lets it see EOF if we die.
            reader.close()
            procs.append(proc)
            conns.append(writer)
        self._procs, self._job_conns = procs, conns
        with self._state:
            self._counters = counters
        deadline = time.monotonic() + _READY_TIMEOUT
        while not all(ready):
            dead = [p.exitcode for p in procs if p.exitcode is not None]
            if dead or time.monotonic() > deadline:
                self._stop_workers()
                why = f"exited with code {dead[0]}" if dead else "did not start in time"
                raise RuntimeError(f"a miner worker {why}")
            time.sleep(0.005)

    def _stop_workers(self) -> None:
        """Ask the workers to exit, join them, and fold their counts into the base."""
        procs, conns = self._procs, self._job_conns
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        deadline = time.monotonic() + _JOIN_TIMEOUT
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(1.0)
            if proc.is_alive():
                proc.kill()
                proc.join()
            proc.close()
        for conn in conns:
            conn.close()
        with self._state:
            if self._counters is not None:
                self._base_hashes += sum(self._counters)
            self._counters = None
        self._procs, self._job_conns = [], []

    def _send_all(self, msg: _JobMessage) -> None:
        for conn in self._job_conns:
            # A dead worker must not keep the message from the others; the
            # next submit replaces it.
            with contextlib.suppress(OSError):
                conn.send(msg)

    def _wake(self) -> None:
        """Cut short a get_event wait, so new state is reported at once."""
        with self._state:
            if not self._waiting or self._results_w is None:
                return
            # Only one wake per wait: nothing accumulates in the pipe when
            # nobody reads events.
            self._waiting = False
            with contextlib.suppress(OSError):
                self._results_w.send(("wake",))

    def _bump_locked(self) -> int:
        self._gen += 1
        self._generation.value = self._gen
        return self._gen

    def _total_locked(self) -> int:
        counters = self._counters
        return self._base_hashes + (sum(counters) if counters is not None else 0)

    def _go_idle_locked(self) -> None:
        self._last_job_hashes = self._total_locked() - self._job_start_hashes
        self._job = None
        self._idle_pending = True

    def _handle(self, msg: tuple[Any, ...]) -> MinerSolution | None:
        kind = msg[0]
        if kind == "solution":
            _, gen, nonce, htime = msg
            with self._state:
                job = self._job
                if job is None or gen != self._job_gen:
                    return None  # found just before the job was replaced or cancelled
                header = job.header.with_nonce(nonce, htime)
                if not hash_meets_target(header.hash, job.target):
                    return None  # never announce a block that does not verify
                self._go_idle_locked()
            return MinerSolution(job.job_id, header)
        if kind == "error":
            self.last_error = msg[2]
        return None

    def _progress_locked(self, now: float) -> MinerProgress:
        total = self._total_locked()
        job = self._job
        if job is None:
            return MinerProgress(None, total, self._last_job_hashes, 0.0, self._n)
        samples = self._samples
        samples.append((now, total))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW:
            samples.popleft()
        t0, h0 = samples[0]
        rate = (total - h0) / (now - t0) if now > t0 else 0.0
        return MinerProgress(job.job_id, total, total - self._job_start_hashes, rate, self._n)
