"""Helpers the scale benches share: headless node processes, their REST API, their memory,
fast libsodium signing and the machine's raw verify limit on one and two cores."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _repo  # noqa: F401  (the repository root on sys.path)
import aiohttp
from nacl.bindings import crypto_sign, crypto_sign_open

from tuichain.core.tx import Transaction


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports on 127.0.0.1. All are held until all are chosen: one at
    a time, a port closed could come back for the next (two nodes of scale_net once
    got the same one; the second could not listen, and the first answered for both)."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(n):
            s = held.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
        return ports


def signed(unsigned: Transaction, secret: bytes) -> Transaction:
    """`unsigned` with a libsodium signature (the same bytes PrivateKey.sign makes)."""
    signature = crypto_sign(unsigned.signing_digest(), secret)[:64]
    return dataclasses.replace(unsigned, signature=signature)


def _verify_all(items: list[tuple[bytes, bytes]]) -> int:
    for pub, message in items:
        crypto_sign_open(message, pub)
    return len(items)


def _items(txs: list[Transaction]) -> list[tuple[bytes, bytes]]:
    return [(t.sender, t.signature + t.signing_digest()) for t in txs]


def raw_verify_rate(txs: list[Transaction]) -> float:
    """The machine's limit: libsodium verification alone on one core, digests precomputed."""
    items = _items(txs)
    start = time.perf_counter()
    _verify_all(items)
    return len(items) / (time.perf_counter() - start)


def raw_verify_rates(txs: list[Transaction], rounds: int = 3) -> tuple[float, float]:
    """Raw libsodium verifications a second of these signatures: on one core (best of
    `rounds`), and with two processes each verifying the whole list at once."""
    items = _items(txs)
    one = max(raw_verify_rate(txs) for _ in range(rounds))
    two = 0.0
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_verify_all, [items[:10], items[:10]])  # workers up before the clock starts
        for _ in range(rounds):
            start = time.perf_counter()
            done = sum(pool.map(_verify_all, [items, items], chunksize=1))
            two = max(two, done / (time.perf_counter() - start))
    return one, two


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the process's peak resident memory so far."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def children_running(pid: int, module: str) -> list[int]:
    """The child processes of `pid` started as `python -m <module>`."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except FileNotFoundError:
            continue
        for kid in kids:
            try:
                with open(f"/proc/{kid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except FileNotFoundError:
                continue
            if module.encode() in argv:
                found.append(kid)
    return found


def dir_bytes(path: Path, prefix: str = "chain.sqlite3") -> int:
    """Bytes of the chain database (with its -wal and -shm files)."""
    return sum(p.stat().st_size for p in path.iterdir() if p.name.startswith(prefix))


class NodeProcess:
    """One `python -m tuichain --headless` (or a launcher script) on 127.0.0.1."""

    def __init__(self, argv: list[str], data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self._out = open(data_dir / "bench-stdout.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    @classmethod
    def headless(cls, data_dir: Path, port: int, peers: Sequence[str] = ()) -> NodeProcess:
        argv = [sys.executable, "-m", "tuichain", "--headless", "--network", "regtest",
                "--data-dir", str(data_dir), "--port", str(port), "--log-level", "warning"]
        for p in peers:
            argv += ["--peer", p]
        return cls(argv, data_dir, port)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def get(self, session: aiohttp.ClientSession, path: str) -> Any:
        async with session.get(self.url + path) as r:
            r.raise_for_status()
            return await r.json()

    async def wait_up(self, session: aiohttp.ClientSession, limit: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + limit
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node on port {self.port} exited ({self.proc.returncode}); "
                                   f"see {self.data_dir / 'bench-stdout.log'}")
            try:
                status: dict[str, Any] = await self.get(session, "/api/status")
                return status
            except (aiohttp.ClientError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
