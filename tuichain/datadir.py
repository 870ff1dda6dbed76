"""One process per data directory: an exclusive lock file held for the process' life.

Two nodes on one directory both write the chain database and interleave their
account updates (the ledger no longer matches a replay of the chain), and the
second rewrites state.toml. So a node (and `tuichain wallet new`, which
writes wallet.json and state.toml) first takes ``<data_dir>/.lock`` with
``flock(LOCK_EX | LOCK_NB)``, before it reads or writes anything else there,
the way bitcoind holds its ``.lock``. The kernel drops the lock when the
process ends, however it ends, so a stale file after ``kill -9`` is no bar;
the pid inside is only there to tell a person which process holds it.

flock locks belong to an open file description, so a second attempt fails
even inside the same process: in-process nodes in separate directories
coexist, two on one directory do not.

The lock also remembers whether the directory had been used by a node before
it was taken. The entry points write state.toml and node.log right after
locking, so this is the last moment to tell a fresh directory (where an empty
chain file may become a new chain) from a used one (where it means a lost chain).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path

from .config import LOG_FILE, SETTINGS_FILE, STATE_FILE
from .core.wallet import WALLET_FILE
from .net.addrbook import PEERS_FILE

LOCK_FILE = ".lock"
# Files only a node that ran here (or the wallet command) leaves behind.
NODE_FILES = (SETTINGS_FILE, STATE_FILE, WALLET_FILE, PEERS_FILE, LOG_FILE)


class DataDirError(Exception):
    """The data directory cannot be used; ``reason`` is one line for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DataDirInUse(DataDirError):
    def __init__(self, data_dir: Path, pid: int | None) -> None:
        who = f"process {pid}" if pid is not None else "another process"
        super().__init__(f"data directory {data_dir} is in use by {who}")
        self.pid = pid


@dataclass
class DataDirLock:
    """The held lock on ``data_dir``; ``release`` (or the process ending) lets it go."""

    data_dir: Path
    used_before: bool
    pid: int
    _fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor drops the flock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_data_dir(data_dir: Path) -> DataDirLock:
    """Create ``data_dir`` if needed and lock it; DataDirError if that is impossible.

    Nothing else in the directory is read or written, and when another process
    holds the lock nothing at all is changed (the lock file is opened, not truncated).
    """
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(
            f"cannot create data directory {data_dir}: {exc.strerror or exc}"
        ) from None
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise DataDirError(
            f"cannot open the lock file {path}: {exc.strerror or exc} "
            "(the data directory must be writable by this user)"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = _read_pid(fd)
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise DataDirInUse(data_dir, holder) from None
        raise DataDirError(f"cannot lock {path}: {exc.strerror or exc}") from None
    try:
        used_before = any(os.path.lexists(data_dir / name) for name in NODE_FILES)
        pid = os.getpid()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{pid}\n".encode(), 0)
    except OSError as exc:
        os.close(fd)
        raise DataDirError(f"cannot write the lock file {path}: {exc.strerror or exc}") from None
    return DataDirLock(data_dir, used_before, pid, fd)


def _read_pid(fd: int) -> int | None:
    # The holder writes its pid right after locking; in that instant it may be empty.
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip())
    return None
