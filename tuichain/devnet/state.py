"""What a devnet is: its folder, its nodes, their command lines, and how to tell one is up.

Layout of a devnet folder (default ``$TUICHAIN_HOME/devnet``, else
``~/.tuichain/devnet``)::

    devnet.json      what was started: network, node count, base port, mode, tmux socket
    node1.pid ...    pid of each running node (removed when it is stopped)
    node1/ ...       each node's own data directory (chain, wallet.json, state.toml,
                     node.log, and output.log: the headless process's stdout and stderr)

Topology: a full mesh. Nodes start one after another and node k dials every
node below it once that one answers, so every pair is connected by exactly one
connection (no two nodes dialling each other at the same moment) and a block
or transaction reaches every node in one hop; stopping any node never splits
the others. The peers are given on each node's command line, for that run only.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..cli.errors import EXIT_FAILURE
from ..control.lab import HOST, LabNode
from ..core.params import NETWORKS

DEVNET_FILE = "devnet.json"
LOCK_FILE = "devnet.lock"
OUTPUT_FILE = "output.log"
DEFAULT_NODES = 3
DEFAULT_BASE_PORT = 5000
DEFAULT_NETWORK = "regtest"
DEFAULT_SESSION = "tuichain-devnet"
READY_TIMEOUT = 60.0  # seconds for one node to open its chain and answer /api/status


class DevnetError(Exception):
    """Something the user can fix; printed as one line."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def default_devnet_dir() -> Path:
    return Path(os.environ.get("TUICHAIN_HOME", Path.home() / ".tuichain")) / "devnet"


@dataclass(frozen=True)
class DevnetNode(LabNode):
    """A lab node as the devnet command runs it: with its pid file and output."""

    pid_file: Path

    @property
    def output_file(self) -> Path:
        return self.data_dir / OUTPUT_FILE


@dataclass
class Devnet:
    """What `devnet.json` records, so `stop`, `status` and a restart know what was started."""

    directory: Path
    network: str = DEFAULT_NETWORK
    nodes: int = DEFAULT_NODES
    base_port: int = DEFAULT_BASE_PORT
    mode: str = "headless"  # or "tmux"
    tmux_socket: str | None = None
    session: str = DEFAULT_SESSION
    mine_on: list[int] = field(default_factory=list)
    mining_pace: float | None = None
    automine: bool = False  # node1 mines a block per payment (regtest)
    block_time: float | None = None  # node1 mines a block every this many seconds (regtest)

    @property
    def members(self) -> list[DevnetNode]:
        return [
            DevnetNode(
                i,
                self.base_port + i - 1,
                self.directory / f"node{i}",
                self.directory / f"node{i}.pid",
            )
            for i in range(1, self.nodes + 1)
        ]

    def save(self) -> None:
        doc = {k: v for k, v in asdict(self).items() if k != "directory"}
        tmp = self.directory / (DEVNET_FILE + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, self.directory / DEVNET_FILE)

    @classmethod
    def load(cls, directory: Path) -> Devnet | None:
        path = directory / DEVNET_FILE
        if not path.exists():
            return None
        try:
            doc = json.loads(path.read_text())
            net = cls(directory=directory, **{k: doc[k] for k in doc if k in _FIELDS})
        except (OSError, ValueError, TypeError) as exc:
            raise DevnetError(f"cannot read {path}: {exc}; delete it to start afresh") from None
        if net.network not in NETWORKS or not 1 <= net.nodes <= 64:
            raise DevnetError(f"{path} is damaged (network {net.network!r}, {net.nodes} nodes)")
        return net


_FIELDS = {
    "network",
    "nodes",
    "base_port",
    "mode",
    "tmux_socket",
    "session",
    "mine_on",
    "mining_pace",
    "automine",
    "block_time",
}


def session_name(directory: Path) -> str:
    if directory == default_devnet_dir().absolute():
        return DEFAULT_SESSION
    # A devnet in another folder gets its own session, so two devnets can coexist.
    return f"{DEFAULT_SESSION}-{hashlib.sha256(str(directory).encode()).hexdigest()[:6]}"


def node_command(net: Devnet, node: DevnetNode, *, headless: bool) -> list[str]:
    """The `tuichain` command line of one devnet node (same interpreter as this one)."""
    cmd = [
        sys.executable,
        "-m",
        "tuichain",
        "--port",
        str(node.port),
        "--host",
        HOST,
        "--data-dir",
        str(node.data_dir),
        "--network",
        net.network,
    ]
    for other in net.members[: node.index - 1]:
        cmd += ["--peer", other.url]
    if node.index in net.mine_on:
        cmd.append("--mine")
        if net.mining_pace is not None:
            cmd += ["--mining-pace", str(net.mining_pace)]
    # One node paces the dev chain; several would race for the same payments.
    if node.index == 1 and net.automine:
        cmd.append("--automine")
    if node.index == 1 and net.block_time is not None:
        cmd += ["--block-time", str(net.block_time)]
    if headless:
        cmd.append("--headless")
    return cmd


def write_pid(node: DevnetNode, pid: int) -> None:
    tmp = node.pid_file.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, node.pid_file)


def read_pid(node: DevnetNode) -> int | None:
    try:
        return int(node.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def out(text: str, *, flush: bool = True) -> None:
    """A line for the person at the terminal.

    A terminal that went away (SIGHUP, a closed pipe) must not abort a stop
    half-way, so a failed write is dropped.
    """
    try:
        sys.stdout.write(text + "\n")
        if flush:
            sys.stdout.flush()
    except (OSError, ValueError):
        pass


def wait_ready(node: DevnetNode, alive: Callable[[], bool], last_words: Callable[[], str]) -> None:
    """Block until the node answers /api/status; a node that exits first is an error."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if not alive():
            raise DevnetError(f"{node.name} exited while starting:\n{last_words()}")
        if fetch_status(node) is not None:
            return
        time.sleep(0.1)
    raise DevnetError(
        f"{node.name} did not answer on {node.url} within {READY_TIMEOUT:.0f} s:\n{last_words()}"
    )


# No proxies: a devnet's nodes are on 127.0.0.1, whatever http_proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch_status(node: DevnetNode, timeout: float = 1.0) -> dict[str, Any] | None:
    try:
        with _OPENER.open(f"{node.url}/api/status", timeout=timeout) as resp:
            doc = json.loads(resp.read())
    # HTTPException: something on the port that is not a ready node (even the poll's
    # own socket, connected to itself on a port no one listens on yet): not ready.
    except (OSError, ValueError, urllib.error.URLError, http.client.HTTPException):
        return None
    return doc if isinstance(doc, dict) else None
