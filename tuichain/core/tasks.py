"""Supervised background tasks: every task has an owner that keeps it alive and logs its end.

A bare `asyncio.ensure_future(...)` whose result nobody awaits loses its
exception ("Task exception was never retrieved", printed at garbage collection
or never) and can even be collected while it runs. A `TaskSet` holds a strong
reference to each task it spawns, logs a failure on the owner's logger the
moment the task ends (so it reaches node.log), lets the owner react through
`on_error`, and cancels and awaits what is left when the owner stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

ErrorHook = Callable[[BaseException], None]


class TaskSet:
    """The tasks one owner (the miner, the peer manager, the event bus...) started."""

    def __init__(self, log: logging.Logger, owner: str) -> None:
        self._log = log
        self._owner = owner
        self._tasks: dict[asyncio.Task[Any], tuple[str, ErrorHook | None]] = {}

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str,
              on_error: ErrorHook | None = None) -> asyncio.Task[Any]:
        """Run `coro` as a task; a failure is logged as "<owner>: <what> failed" with its
        traceback, then handed to `on_error` (which must not raise)."""
        task = asyncio.ensure_future(coro)
        self._tasks[task] = (what, on_error)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        what, on_error = self._tasks.pop(task, ("task", None))
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        self._log.error("%s: %s failed: %s", self._owner, what, exc, exc_info=exc)
        if on_error is not None:
            try:
                on_error(exc)
            except Exception:  # the hook's own bug must not hide the first failure
                self._log.exception("%s: error handler for %s failed", self._owner, what)

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))

    async def close(self) -> None:
        """Cancel every task still running and wait until all have ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
