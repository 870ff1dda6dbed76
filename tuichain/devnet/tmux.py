"""The tmux side of `tuichain devnet --tmux`: one tiled pane per node, each running the dashboard.

Panes keep their last screen when their node exits (remain-on-exit), so a
dashboard that fails to start shows why instead of vanishing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from functools import partial

from .state import Devnet, DevnetError, DevnetNode, node_command, out, wait_ready, write_pid

QUIT_KEY = "C-c"  # the dashboard binds ctrl+c to quit with priority: no widget swallows it
# Size of the detached session until a client attaches: big enough that the
# tiled panes of a few nodes can each draw the dashboard.
WIDTH, HEIGHT = "200", "50"


def require_tmux() -> None:
    if shutil.which("tmux") is None:
        raise DevnetError(
            "tmux is not installed: install it, or run without --tmux for headless nodes"
        )


def tmux_base(net: Devnet) -> list[str]:
    return ["tmux", *(["-L", net.tmux_socket] if net.tmux_socket else [])]


def _tmux(net: Devnet, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            [*tmux_base(net), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )
    except FileNotFoundError:
        raise DevnetError("tmux is not installed") from None
    if check and result.returncode != 0:
        raise DevnetError(f"tmux {args[0]} failed: {result.stderr.strip()}")
    return result


def session_exists(net: Devnet) -> bool:
    if shutil.which("tmux") is None:
        return False
    return _tmux(net, "has-session", "-t", f"={net.session}", check=False).returncode == 0


def panes(net: Devnet) -> list[str]:
    listing = _tmux(
        net, "list-panes", "-s", "-t", f"={net.session}", "-F", "#{pane_id}", check=False
    )
    return listing.stdout.split()


def send_quit(net: Devnet) -> None:
    for pane in panes(net):
        _tmux(net, "send-keys", "-t", pane, QUIT_KEY, check=False)


def kill_session(net: Devnet) -> None:
    _tmux(net, "kill-session", "-t", f"={net.session}", check=False)


def pane_command(net: Devnet, node: DevnetNode) -> str:
    # exec: the pane's process is the node itself, so the pane's pid is the node's pid.
    return "exec " + shlex.join(node_command(net, node, headless=False))


def start_tmux(net: Devnet) -> None:
    """One window, one tiled pane per node, started in order, each once the last one answers.

    On failure the caller stops what was started (procs.stop_nodes).
    """
    env = [f"{k}={os.environ[k]}" for k in ("TUICHAIN_HOME", "PATH") if k in os.environ]
    env_args = [a for kv in env for a in ("-e", kv)]
    window = f"={net.session}:"  # its current (only) window
    # The first pane idles until the options are set: a node that fails at once
    # then still leaves its error on screen (remain-on-exit) for wait_ready to report.
    _tmux(
        net,
        "new-session",
        "-d",
        "-s",
        net.session,
        "-n",
        "devnet",
        "-x",
        WIDTH,
        "-y",
        HEIGHT,
        *env_args,
        "sleep 600",
    )
    for option, value in (
        ("remain-on-exit", "on"),
        ("pane-border-status", "top"),
        ("pane-border-format", " #{pane_title} "),
    ):
        _tmux(net, "set-option", "-w", "-t", window, option, value)
    first = panes(net)[0]
    for node in net.members:
        if node.index == 1:
            _tmux(net, "respawn-pane", "-k", "-t", first, *env_args, pane_command(net, node))
            pane = first
        else:
            created = _tmux(
                net,
                "split-window",
                "-t",
                window,
                "-P",
                "-F",
                "#{pane_id}",
                *env_args,
                pane_command(net, node),
            )
            pane = created.stdout.strip()
            _tmux(net, "select-layout", "-t", window, "tiled")
        _tmux(net, "select-pane", "-t", pane, "-T", f"{node.name} :{node.port}")
        pid = int(_pane_value(net, pane, "#{pane_pid}"))
        write_pid(node, pid)
        out(f"{node.name}: starting on port {node.port} in tmux (pid {pid})")
        wait_ready(node, partial(_pane_alive, net, pane), partial(_screen, net, pane))


def _pane_alive(net: Devnet, pane: str) -> bool:
    return _pane_value(net, pane, "#{pane_dead}") == "0"


def _screen(net: Devnet, pane: str) -> str:
    """What the pane shows (its scrollback too), without the blank rows."""
    shown = _tmux(net, "capture-pane", "-p", "-J", "-S", "-200", "-t", pane, check=False).stdout
    return "\n".join(line for line in shown.splitlines() if line.strip())


def _pane_value(net: Devnet, pane: str, fmt: str) -> str:
    return _tmux(net, "display-message", "-p", "-t", pane, fmt, check=False).stdout.strip()


def attach_tmux(net: Devnet, *, attach: bool) -> int:
    """Attach when run from a terminal (switch client when already inside tmux); else say how."""
    base = tmux_base(net)
    how = shlex.join([*base, "attach", "-t", net.session])
    stop = f"tuichain devnet stop --dir {shlex.quote(str(net.directory))}"
    if not (attach and sys.stdin.isatty() and sys.stdout.isatty()):
        out(f"\nattach: {how}\nstop:   {stop}")
        return 0
    out(f"\nattaching; detach with C-b d, stop everything with `{stop}`")
    if os.environ.get("TMUX") and not net.tmux_socket:
        return subprocess.run([*base, "switch-client", "-t", net.session]).returncode
    os.execvp(base[0], [*base, "attach", "-t", net.session])
    return 0  # not reached
