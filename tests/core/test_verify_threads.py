"""The verify pool has a thread per core the process may run on, not per core the
machine has: under `taskset -c 0`, two threads only took turns on the one core."""

from __future__ import annotations

import os
import subprocess
import sys

from tuichain.core.admission import MAX_VERIFY_THREADS, verify_threads


def test_one_verify_thread_per_core_the_process_may_use() -> None:
    assert verify_threads() == min(MAX_VERIFY_THREADS, len(os.sched_getaffinity(0)))
    one = min(os.sched_getaffinity(0))
    pinned = subprocess.run(
        [sys.executable, "-c",
         f"import os; os.sched_setaffinity(0, {{{one}}}); "
         "from tuichain.core.admission import verify_threads; print(verify_threads())"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert pinned.stdout.strip() == "1"
