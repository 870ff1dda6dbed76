"""asyncio adapter for the miner process pool: control off the loop, events into it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .pool import _MAX_WAIT, MinerEvent, MinerPool, MinerProgress, MinerSolution, MiningJob


class AsyncMiner:
    """asyncio adapter: owns a MinerPool and a daemon reader thread that forwards
    events into the loop via loop.call_soon_threadsafe.

    Control calls go through a one-thread executor, in order, so the loop never
    waits on spawning or joining processes. The workers are spawned with the first
    job, not by start(): each is a fresh interpreter (0.15 s of a core or more), which
    a node that never mines (a sync, say) should not pay, and calls made meanwhile
    queue behind the spawn. A spawn that fails goes to `on_failure` in the loop, and
    later calls raise with its reason.
    """

    def __init__(
        self,
        workers: int = 1,
        on_progress: Callable[[MinerProgress], None] | None = None,
        on_solution: Callable[[MinerSolution], None] | None = None,
        progress_interval: float = 0.25,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._pool = MinerPool(workers, progress_interval)
        self._on_progress = on_progress
        self._on_solution = on_solution
        self._on_failure = on_failure
        self._start_error: BaseException | None = None
        self._spawned = False  # the spawn is queued (or done) on the control thread
        self._control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="miner-control")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False

    @property
    def pool(self) -> MinerPool:
        return self._pool

    @property
    def workers(self) -> int:
        return self._pool.workers

    async def start(self) -> None:
        if self._closed:
            raise RuntimeError("the miner is closed")
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()

    def _start_pool(self) -> None:
        self._pool.start()
        self._reader = threading.Thread(target=self._read, name="miner-events", daemon=True)
        self._reader.start()

    def _start_failure(self, future: Future[None]) -> None:
        exc = future.exception()
        loop = self._loop
        if exc is None or loop is None:
            return
        # Set on the control thread before it runs the calls queued behind the spawn.
        self._start_error = RuntimeError(f"the miner's workers did not start: {exc}")
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
            loop.call_soon_threadsafe(self._failed_to_start, exc)

    def _failed_to_start(self, exc: BaseException) -> None:
        if self._closed:
            return
        context = {"message": "the miner's workers did not start", "exception": exc}
        asyncio.get_running_loop().call_exception_handler(context)
        if self._on_failure is not None and self._start_error is not None:
            self._on_failure(self._start_error)

    def submit(self, job: MiningJob) -> None:
        self._control_call(self._pool.submit, job)

    def cancel(self) -> None:
        if self._spawned and not self._closed and self._start_error is None:
            self._control_call(self._pool.cancel)

    def set_workers(self, n: int) -> None:
        if n < 1:
            raise ValueError("a miner needs at least one worker")
        if not self._spawned and not self._closed:
            # Before the first job this only records the number: nothing to spawn yet.
            self._pool.set_workers(n)
        else:
            self._control_call(self._pool.set_workers, n)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._control, self._pool.close)
        reader = self._reader
        if reader is not None:
            await loop.run_in_executor(None, reader.join)
        self._control.shutdown(wait=False)

    def _control_call(self, fn: Callable[..., None], *args: Any) -> None:
        # Calls made while start() is still spawning queue up behind it.
        if self._loop is None or self._closed:
            raise RuntimeError("the miner is not running")
        if self._start_error is not None:
            raise self._start_error
        if not self._spawned:
            self._spawned = True
            self._control.submit(self._start_pool).add_done_callback(self._start_failure)
        self._control.submit(self._after_start, fn, *args).add_done_callback(
            self._report_failure)

    def _after_start(self, fn: Callable[..., None], *args: Any) -> None:
        # A call queued behind a spawn that failed: on_failure has said why, once.
        if self._start_error is None:
            fn(*args)

    def _report_failure(self, future: Future[None]) -> None:
        # Nobody awaits these calls, so a failure goes to the loop's exception
        # handler (the node's log) instead of vanishing with the future.
        exc = future.exception()
        loop = self._loop
        if exc is None or loop is None:
            return
        context = {"message": "miner control call failed", "exception": exc}
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.call_exception_handler, context)

    def _read(self) -> None:
        loop = self._loop
        assert loop is not None
        while not self._stop.is_set() and not self._pool.closed:
            try:
                event = self._pool.get_event(_MAX_WAIT)
            except (OSError, EOFError):
                return  # the pool was torn down under us
            if event is None:
                continue
            try:
                loop.call_soon_threadsafe(self._dispatch, event)
            except RuntimeError:
                return  # the loop is closed; nobody is listening any more

    def _dispatch(self, event: MinerEvent) -> None:
        if self._closed:
            return
        if isinstance(event, MinerSolution):
            if self._on_solution is not None:
                self._on_solution(event)
        elif self._on_progress is not None:
            self._on_progress(event)
