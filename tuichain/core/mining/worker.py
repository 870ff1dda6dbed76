"""The code that runs inside a mining worker process.

Kept free of BlockHeader and anything heavy, so a spawned worker imports little
and starts fast. See pool.py for how parent and workers talk.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import signal
import struct
import sys
import traceback
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Lock as ProcessLock

# Nonces hashed between two looks at the shared state. At ~1.8 MH/s per core this
# is ~2 ms, which bounds how long a worker keeps hashing a stale template.
CHUNK: Final = 4096
NONCE_SPACE: Final = 1 << 32
U32_MAX: Final = NONCE_SPACE - 1
# An idle worker wakes this often to notice a parent that died without closing
# the pipe cleanly (a closed pipe already wakes it at once with EOF).
_IDLE_POLL: Final = 1.0
_U32: Final = struct.Struct("<I")

# (generation, header bytes or None for idle, target) or None for exit.
_JobMessage = tuple[int, bytes | None, int] | None


def _worker_main(
    index: int,
    count: int,
    jobs: Connection,
    results: Connection,
    generation: ctypes.c_int64,
    solved: ctypes.c_int64,
    claim_lock: ProcessLock,
    counters: ctypes.Array[ctypes.c_uint64],
    ready: ctypes.Array[ctypes.c_uint8],
    parent_pid: int,
) -> None:
    # Ctrl-C reaches the whole process group; the parent decides when we stop,
    # and a KeyboardInterrupt traceback would be written over the TUI.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    sys.stdout = sys.stderr = devnull
    try:
        ready[index] = 1
        while True:
            msg = _next_job(jobs, generation, parent_pid)
            if msg is None:
                return
            gen, header, target = msg
            if header is None:
                continue
            if not _mine(
                index, count, header, target, gen,
                generation, solved, claim_lock, counters, results, parent_pid,
            ):  # fmt: skip
                return
    except Exception:
        # The parent keeps the text for display; a worker never prints.
        with contextlib.suppress(OSError):
            results.send(("error", index, traceback.format_exc()[-2000:]))


def _next_job(jobs: Connection, generation: ctypes.c_int64, parent_pid: int) -> _JobMessage:
    """Block until the message of the newest generation arrives; None means exit."""
    while True:
        if not jobs.poll(_IDLE_POLL):
            if os.getppid() != parent_pid:
                return None
            continue
        try:
            msg: _JobMessage = jobs.recv()
        except EOFError:
            return None
        # The parent bumps the generation before sending, so an older message
        # means a newer one is already on its way: skip to it.
        if msg is None or msg[0] >= generation.value:
            return msg


def _mine(
    index: int,
    count: int,
    header: bytes,
    target: int,
    gen: int,
    generation: ctypes.c_int64,
    solved: ctypes.c_int64,
    claim_lock: ProcessLock,
    counters: ctypes.Array[ctypes.c_uint64],
    results: Connection,
    parent_pid: int,
) -> bool:
    """Hash this worker's share of the nonces, rolling time; False if the parent died."""
    lo = index * NONCE_SPACE // count
    hi = (index + 1) * NONCE_SPACE // count
    # Version, prev hash and 28 bytes of the Merkle root fill the first SHA-256
    # block; it is compressed once per job, not once per nonce.
    first = hashlib.sha256(header[:64])
    merkle_tail = header[64:68]
    bits = header[72:76]
    htime = int.from_bytes(header[68:72], "little")
    # The hash's last byte is its most significant: a one-byte test rejects
    # almost every nonce of a real target before the costly int conversion.
    top = min(target >> 248, 255)
    sha256 = hashlib.sha256
    pack = _U32.pack
    from_bytes = int.from_bytes
    while True:
        # The 12 fixed tail bytes only sit in hashlib's buffer; feeding them once
        # here leaves exactly the 4 nonce bytes for the per-nonce update.
        mid = first.copy()
        mid.update(merkle_tail + pack(htime) + bits)
        copy = mid.copy
        start = lo
        while start < hi:
            end = min(start + CHUNK, hi)
            for nonce in range(start, end):
                inner = copy()
                inner.update(pack(nonce))
                digest = sha256(inner.digest()).digest()
                if digest[31] <= top and from_bytes(digest, "little") <= target:
                    counters[index] += nonce - start + 1
                    _claim(gen, nonce, htime, generation, solved, claim_lock, results)
                    return True
            counters[index] += end - start
            if generation.value != gen or solved.value >= gen:
                return True
            if os.getppid() != parent_pid:
                return False
            start = end
        if htime >= U32_MAX:
            return True  # nothing left to roll; idle until the next template
        htime += 1


def _claim(
    gen: int,
    nonce: int,
    htime: int,
    generation: ctypes.c_int64,
    solved: ctypes.c_int64,
    claim_lock: ProcessLock,
    results: Connection,
) -> None:
    """Report a solution unless another worker already solved this generation."""
    with claim_lock:
        # Generations only grow, so a late claim for an abandoned job can never
        # reopen a job that was already solved.
        if solved.value >= gen or generation.value != gen:
            return
        solved.value = gen
    results.send(("solution", gen, nonce, htime))
