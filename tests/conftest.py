"""Fixtures for the whole suite: a throwaway PostgreSQL server.

PLACEHOLDER (branch i13a) until i13b's cluster fixture lands: on merge, take
theirs. The contract both sides keep: a session-scoped `pg_dsn` returning a
``postgresql://...`` DSN of a fresh database on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import free_port


def _as_pg_user(cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server as a plain user."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "pgtest", "--", *cmd]


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.fail("no PostgreSQL here (initdb not found): the postgres tests cannot be skipped")
    if os.geteuid() == 0:
        subprocess.run(["id", "pgtest"], capture_output=True, check=False).returncode == 0 or (
            subprocess.run(["useradd", "-m", "pgtest"], check=True))
    root = Path(tempfile.mkdtemp(prefix="tuichain-pg-"))
    os.chmod(root, 0o777)
    data = root / "data"
    port = free_port()
    subprocess.run(_as_pg_user([initdb, "-D", str(data), "-U", "postgres", "--auth=trust",
                                "-E", "UTF8"]), check=True, capture_output=True)
    subprocess.run(_as_pg_user([
        "pg_ctl", "-D", str(data), "-l", str(root / "log"), "-w", "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start",
    ]), check=True, capture_output=True)
    try:
        name = f"t{uuid.uuid4().hex[:10]}"
        subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name],
                       check=True, capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/{name}"
    finally:
        subprocess.run(_as_pg_user(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
