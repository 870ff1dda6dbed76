"""Real `tuichain` processes for end-to-end tests: start, poll over REST, stop, always clean up.

Everything listens on and talks to 127.0.0.1 only. Waits poll with a
deadline that only bounds a failure; nothing asserts on how long anything took.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

READY_TIMEOUT = 40.0  # seconds; bounds a failure (spawned miner processes, a slow CI box)
STOP_TIMEOUT = 30.0
POLL = 0.05

# A REST opener that ignores http_proxy & co: tests talk to 127.0.0.1 only.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# prctl(2) option and the capabilities that let root ignore file modes (linux/capability.h).
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def as_plain_user() -> None:
    """preexec_fn: run the child like an ordinary user as far as file modes go.

    Tests run as root here, and root reads and writes a chmod 444 or 000 file
    anyway. Dropping the DAC-override capabilities from the bounding set before
    exec leaves the process uid 0 but subject to file modes, so "read-only"
    and "unreadable" are real for the node (and its miner processes). For a
    non-root user there is nothing to drop.
    """
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1, released for the node to take."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUICHAIN_")}
    env.update(TUICHAIN_HOME=str(home), PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost")
    env.update(extra)
    return env


def run_cli(
    args: Sequence[str],
    home: Path,
    *,
    stdin: str | None = None,
    timeout: float = 60.0,
    plain_user: bool = False,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m tuichain ARGS` to completion and capture its output.

    ``plain_user`` runs it subject to file modes even as root (see as_plain_user).
    """
    return subprocess.run(
        [sys.executable, "-m", "tuichain", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(home, **env),
        stdin=None if stdin is not None else subprocess.DEVNULL,
        preexec_fn=as_plain_user if plain_user else None,
    )


def http_json(url: str, body: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
    """GET (or POST with a JSON body); (status, decoded JSON) for 2xx and 4xx alike."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def assert_one_clear_line(stderr: str, *needles: str) -> None:
    """A refusal a person can read: one line, no traceback, naming what it must."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = READY_TIMEOUT) -> T:
    """Poll until ``probe`` returns something truthy; connection errors count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} (last error: {last_error!r})")
        time.sleep(POLL)


class NodeProcess:
    """One `tuichain --headless` process with its own data directory."""

    def __init__(
        self,
        home: Path,
        data_dir: Path,
        port: int,
        args: Sequence[str],
        tag: str = "",
        plain_user: bool = False,
    ) -> None:
        self.home = home
        self.plain_user = plain_user
        self.tag = tag or data_dir.name
        self.data_dir = data_dir
        self.port = port
        self.args = list(args)
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._run = 0

    def start(self) -> NodeProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._run += 1
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.stdout_path, "wb")  # noqa: SIM115 - the child owns it
        err = open(self.stderr_path, "wb")  # noqa: SIM115
        cmd = [
            sys.executable,
            "-m",
            "tuichain",
            "--headless",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--network",
            "regtest",
            *self.args,
        ]
        try:
            # Its own session, so kill() can take the miner processes it spawned too.
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=cli_env(self.home),
                start_new_session=True,
                preexec_fn=as_plain_user if self.plain_user else None,
            )
        finally:
            out.close()
            err.close()
        return self

    @property
    def stdout_path(self) -> Path:
        return self.data_dir.parent / f"{self.tag}.run{self._run}.out"

    @property
    def stderr_path(self) -> Path:
        return self.data_dir.parent / f"{self.tag}.run{self._run}.err"

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def get(self, path: str) -> Any:
        status, doc = http_json(self.url + path)
        assert status == 200, f"GET {path} on {self.url}: {status} {doc}"
        return doc

    def status(self) -> dict[str, Any]:
        return self.get("/api/status")

    def height(self) -> int:
        return int(self.status()["height"])

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> NodeProcess:
        def ready() -> dict[str, Any] | None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"node on port {self.port} exited with {self.proc.returncode}:\n"
                    f"{self.stderr()}\n{self.stdout()[-3000:]}"
                )
            return self.status()

        wait_for(ready, f"node on port {self.port} to serve /api/status", timeout)
        return self

    def wait_height(self, height: int, timeout: float = READY_TIMEOUT) -> int:
        return wait_for(
            lambda: (h := self.height()) >= height and h,
            f"height {height} on port {self.port}",
            timeout,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal the node and wait for it to exit; its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"node on port {self.port} ignored {sig!r}") from None
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL the node and anything left in its process group (its miner workers)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(STOP_TIMEOUT)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class NodePool:
    """Every node a test started, so the fixture can kill whatever is left."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.nodes: list[NodeProcess] = []

    def spawn(
        self,
        name: str,
        *args: str,
        port: int | None = None,
        ready: bool = True,
        plain_user: bool = False,
    ) -> NodeProcess:
        node = self.prepare(name, *args, port=port, plain_user=plain_user)
        node.start()
        return node.wait_ready() if ready else node

    def prepare(
        self, name: str, *args: str, port: int | None = None, plain_user: bool = False
    ) -> NodeProcess:
        """A node on data directory ROOT/name, not started yet; `start()` it (again and again)."""
        tag = f"{name}.{len(self.nodes)}"
        node = NodeProcess(
            self.home, self.root / name, port or free_port(), args, tag, plain_user
        )
        self.nodes.append(node)
        return node

    def wallet(
        self, *args: str, stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(["wallet", *args], self.home, stdin=stdin, **env)

    def close(self) -> None:
        for node in self.nodes:
            if node.running:
                try:
                    node.stop(signal.SIGTERM, timeout=10)
                except AssertionError:
                    pass
            node.kill()
