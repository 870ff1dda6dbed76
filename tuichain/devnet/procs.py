"""Processes of a devnet: pid files, clean stops, the combined log, and the tmux session.

A node's pid file is trusted only while that pid still runs a tuichain node on
the node's port (``/proc/<pid>/cmdline``), so a stale file whose pid the
system has since reused never gets someone else's process signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import tmux
from .state import Devnet, DevnetNode, out, read_pid

STOP_TIMEOUT = 20.0  # seconds a node gets to stop after SIGTERM (or the quit key) before SIGKILL
PROC = Path("/proc")
COLORS = (36, 33, 35, 32, 34, 31)


# --- pid files and process checks --------------------------------------------------------


def is_alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to collect it has already stopped)."""
    stat = PROC / str(pid) / "stat"
    if PROC.is_dir():
        try:
            text = stat.read_text()
        except OSError:
            return False
        return text[text.rindex(")") + 2] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_node_process(pid: int, node: DevnetNode) -> bool:
    if not is_alive(pid):
        return False
    try:
        args = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return not PROC.is_dir()  # no /proc (macOS): the pid file is all we have
    words = [a.decode(errors="replace") for a in args]
    port_given = any(
        a == "--port" and b == str(node.port) for a, b in zip(words, words[1:], strict=False)
    )
    return port_given and any("tuichain" in w for w in words)


def running_nodes(net: Devnet) -> list[tuple[DevnetNode, int]]:
    found = []
    for node in net.members:
        pid = read_pid(node)
        if pid is not None and is_node_process(pid, node):
            found.append((node, pid))
    return found


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group: what a node leaves behind if it dies (miners)."""
    if not PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except OSError:
            return []
        return [pgid]
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = [p for p in pids if is_alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in left if is_alive(p)]
    return left


def stop_nodes(net: Devnet, *, quiet: bool = False) -> int:
    """Stop every running node of the devnet cleanly; returns how many were running.

    The node gets SIGTERM (a dashboard in tmux gets its quit key first) and
    STOP_TIMEOUT to close its miner, peers and database; whatever is left of
    its process group after that is killed, so nothing survives a stop.
    """
    say: Callable[[str], None] = (lambda _: None) if quiet else out
    running = running_nodes(net)
    pids = [pid for _, pid in running]
    if net.mode == "tmux" and tmux.session_exists(net):
        tmux.send_quit(net)
        pids = _wait_gone(pids, STOP_TIMEOUT / 2)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(pid, signal.SIGTERM)
    stubborn = set(_wait_gone(pids, STOP_TIMEOUT))
    for node, pid in running:
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            if pid in stubborn:
                say(f"{node.name} (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s: killing it")
                os.killpg(pid, signal.SIGKILL)
            # Each node leads its own process group: leftovers there are its own children.
            for leftover in group_members(pid):
                os.kill(leftover, signal.SIGKILL)
        _wait_gone([pid, *group_members(pid)], 5.0)
        node.pid_file.unlink(missing_ok=True)
        say(f"{node.name} stopped (pid {pid})")
    for node in net.members:
        if node.pid_file.exists() and (node, read_pid(node)) not in running:
            node.pid_file.unlink(missing_ok=True)  # stale: its process ended long ago
    if net.mode == "tmux" and tmux.session_exists(net):
        tmux.kill_session(net)
        say(f"tmux session {net.session} closed")
    return len(running)


# --- logs ------------------------------------------------------------------------------


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


class LogFollower:
    """Prints new lines of every node's output file, each prefixed with its node's name."""

    def __init__(self, members: list[DevnetNode], *, from_start: bool, backlog: int = 0) -> None:
        self.members = members
        self.offsets: dict[int, int] = {}
        self.partial: dict[int, bytes] = {}
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        width = max(len(n.name) for n in members)
        self.prefix = {
            n.index: (
                f"\x1b[{COLORS[(n.index - 1) % len(COLORS)]}m[{n.name}]\x1b[0m"
                if color
                else f"[{n.name}]"
            )
            + " " * (width - len(n.name))
            for n in members
        }
        for node in members:
            size = _size(node.output_file)
            self.offsets[node.index] = 0 if from_start else size
            if backlog and not from_start:
                for line in tail(node.output_file, backlog).splitlines():
                    out(f"{self.prefix[node.index]} {line}", flush=False)
        sys.stdout.flush()

    def pump(self) -> None:
        for node in self.members:
            offset = self.offsets[node.index]
            if _size(node.output_file) < offset:  # the devnet restarted: a new file
                offset, self.partial[node.index] = 0, b""
            try:
                with node.output_file.open("rb") as f:
                    f.seek(offset)
                    chunk = f.read(1 << 20)
            except OSError:
                continue
            self.offsets[node.index] = offset + len(chunk)
            data = self.partial.get(node.index, b"") + chunk
            *lines, self.partial[node.index] = data.split(b"\n")
            for line in lines:
                out(f"{self.prefix[node.index]} {line.decode(errors='replace')}", flush=False)
        sys.stdout.flush()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
