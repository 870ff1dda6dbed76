"""End to end, as a person would: two dashboards in a private tmux server, keys in, screen out.

Two `tuichain --network regtest` nodes run in two tmux windows of 80x24. The
test only types keys (send-keys) and reads what is on screen (capture-pane):
it creates both wallets, connects node 1 to node 2, mines, sends coins to
node 2's address, sees the open transaction on both nodes, mines it, and sees
the funds arrive in node 2's wallet.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# tmux is part of the test set-up (.ci/run installs it): a missing tmux fails, never skips.
pytestmark = pytest.mark.slow

COLS, ROWS = 80, 24
WAIT = 30.0  # seconds before a screen that never shows up fails the test
ADDRESS = re.compile(r"tcrt1[02-9ac-hj-np-z]{20,}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tmux:
    """A private tmux server (its own socket) with one window per node."""

    def __init__(self, workdir: Path) -> None:
        self.socket = f"tuichain-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.env = {
            **os.environ,
            "TUICHAIN_HOME": str(workdir / "home"),
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
        }

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=10,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, name: str, command: list[str]) -> None:
        line = " ".join(_quote(c) for c in command)
        # Keep the pane after the program ends, so a crash leaves its traceback readable.
        shell = f"{line}; echo '[exited '$?']'; sleep 600"
        if not self._has_session():
            # Detached, so nothing resizes the windows: every one stays COLS x ROWS.
            self.run(
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "e2e",
                "-n",
                name,
                "-x",
                str(COLS),
                "-y",
                str(ROWS),
                shell,
            )
        else:
            self.run("new-window", "-d", "-t", "e2e", "-n", name, shell)

    def _has_session(self) -> bool:
        try:
            self.run("has-session", "-t", "e2e")
        except RuntimeError:
            return False
        return True

    def keys(self, name: str, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", f"e2e:{name}", key)

    def type(self, name: str, text: str) -> None:
        self.run("send-keys", "-t", f"e2e:{name}", "-l", text)

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", f"e2e:{name}")

    def wait_for(self, name: str, pattern: str, what: str, limit: float = WAIT) -> re.Match[str]:
        """Poll the window until ``pattern`` (a regex) shows; fail with the screen if not."""
        deadline = time.monotonic() + limit
        while True:  # at least one look, so a failure always shows the screen
            text = self.screen(name)
            found = re.search(pattern, text)
            if found:
                return found
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        raise AssertionError(f"{name}: never saw {what} ({pattern!r}); screen:\n{text}")

    def seen(self, name: str, pattern: str, limit: float) -> bool:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if re.search(pattern, self.screen(name)):
                return True
            time.sleep(0.1)
        return False

    def press_until(self, name: str, key: str, pattern: str, what: str) -> None:
        """Press ``key`` until ``pattern`` shows: a key sent while a dialog is still
        mounting can land before its input has focus, as a fast typist's would.
        Each press waits long enough for a loaded machine to draw what it opens: a
        second Enter on a dialog that was merely slow would answer that dialog."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            self.keys(name, key)
            if self.seen(name, pattern, 5.0):
                return
        self.wait_for(name, pattern, what, limit=0)

    def fill(self, name: str, focus: str, text: str, pattern: str, what: str) -> None:
        """Focus an input with ``focus``, clear it, type ``text``, and wait for ``pattern``.

        Once, not again until it shows: the focus key moves focus before the next key
        is routed (tuichain/widgets/focus.py), so the text lands in the box however
        fast it follows. A retry typed the focus key into the box and raced a slow
        screen; it hid a real bug (a burst sent the text to the table behind)."""
        self.keys(name, focus)
        self.keys(name, "C-a", "C-k")  # start of line, delete to the end: an empty box
        self.type(name, text)
        self.wait_for(name, pattern, what)

    def kill(self) -> None:
        try:
            path = self.run("display-message", "-p", "#{socket_path}").strip()
        except (RuntimeError, subprocess.TimeoutExpired):
            path = ""
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False, timeout=10
        )
        if path:  # the server leaves its socket file behind when killed
            Path(path).unlink(missing_ok=True)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(tmp_path)
    yield server
    server.kill()


def node_command(port: int, data_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tuichain",
        "--port",
        str(port),
        "--network",
        "regtest",
        "--data-dir",
        str(data_dir),
        "--mining-pace",
        "0.1",
    ]


def test_two_dashboards_pay_each_other_in_tmux(tmux: Tmux, tmp_path: Path) -> None:
    port1, port2 = free_port(), free_port()
    url2 = f"http://127.0.0.1:{port2}"
    tmux.start("n1", node_command(port1, tmp_path / "n1"))
    tmux.start("n2", node_command(port2, tmp_path / "n2"))
    for name, port in (("n1", port1), ("n2", port2)):
        tmux.wait_for(name, rf"regtest :{port}", "the status bar")
        tmux.wait_for(name, r"No wallet yet", "the wallet screen asking for a wallet")

    # Both people create a wallet without a passphrase (n, then Enter in both boxes).
    for name in ("n1", "n2"):
        tmux.keys(name, "n")
        tmux.wait_for(name, r"New wallet", "the passphrase dialog")
        tmux.press_until(name, "Enter", r"Address\s+tcrt1", "the new wallet's address")
    address2 = tmux.wait_for("n2", r"Address\s+(tcrt1\w+)", "node 2's address").group(1)
    assert ADDRESS.fullmatch(address2), address2

    # Node 1 connects to node 2 on the peers screen (a, the URL, Enter).
    tmux.press_until("n1", "p", r"Peers: none yet", "the peers screen")
    tmux.fill("n1", "a", url2, rf"▊\s+{re.escape(url2)}\s", "the URL typed")
    tmux.keys("n1", "Enter")
    tmux.wait_for("n1", rf"connected to {re.escape(url2)}", "the connection confirmed")
    tmux.wait_for("n1", rf"{re.escape(url2)}\s+out", "node 2 in the peers table")
    tmux.wait_for("n2", r"1 peer\b", "node 1 counted on node 2's status bar")

    # Node 1 mines a block (50 coins to its wallet); node 2 follows.
    tmux.press_until("n1", "m", r"Mine one block", "the mining screen")
    tmux.keys("n1", "b")  # the mining screen is up and has no input: one press
    tmux.wait_for("n1", r"height 1\b", "node 1 at height 1")
    tmux.wait_for("n2", r"height 1\b", "node 2 at height 1")

    # Node 1 sends 1.5 to node 2's address (s, address, amount, Enter to the end, y).
    tmux.press_until("n1", "w", r"confirmed 50\b", "node 1's mined coins")
    # Keys sent one right behind another, as here, reach a busy app in one burst: s and
    # Enter must move focus before the next key is routed (tuichain/widgets/focus.py).
    tmux.fill("n1", "s", address2, r"✓ valid", "node 2's address accepted")
    tmux.keys("n1", "Enter")
    tmux.type("n1", "1.5")
    tmux.wait_for("n1", r"Amount\s+1\.5\b", "the amount typed")
    tmux.wait_for("n1", rf"To\s+{address2}", "the address still in its box")
    tmux.press_until("n1", "Enter", r"Sign and send", "the confirmation dialog")
    tmux.press_until("n1", "y", r"Sent 1\.5", "the payment sent")
    tmux.keys("n1", "Escape")
    # Out of the form the footer offers the screen keys again; only then is a
    # letter a key and not the tail of an escape sequence (Esc o is alt+o).
    tmux.wait_for("n1", r"\bscreens\b", "the footer's screen keys")

    # The open transaction shows on both nodes before it is mined.
    for name in ("n1", "n2"):
        tmux.press_until(name, "o", r"1 waiting", "one open transaction")
        tmux.wait_for(name, r"\b1\.5\b", "the amount of the open transaction")

    # Node 1 mines it; node 2's wallet shows the coins confirmed.
    tmux.press_until("n1", "m", r"Mine one block", "the mining screen")
    tmux.keys("n1", "b")  # the mining screen is up and has no input: one press
    tmux.wait_for("n1", r"height 2\b", "node 1 at height 2")
    tmux.wait_for(
        "n2",
        r"No open transactions|Open transactions: 0 waiting",
        "the block on node 2 emptying its pool",
    )
    tmux.press_until("n2", "w", r"confirmed 1\.5\b", "node 2's confirmed balance")
    tmux.press_until(
        "n1", "o", r"No open transactions|Open transactions: 0 waiting", "node 1's empty pool"
    )

    # Both quit cleanly with q.
    for name in ("n1", "n2"):
        tmux.keys(name, "q")
        tmux.wait_for(name, r"\[exited 0\]", "a clean exit")


def test_copy_inside_tmux_fills_the_tmux_buffer(tmux: Tmux, tmp_path: Path) -> None:
    port = free_port()
    tmux.start("n1", node_command(port, tmp_path / "n1"))
    tmux.wait_for("n1", r"No wallet yet", "the wallet screen asking for a wallet")
    tmux.keys("n1", "n")
    tmux.wait_for("n1", r"New wallet", "the passphrase dialog")
    tmux.press_until("n1", "Enter", r"Address\s+tcrt1", "the new wallet's address")
    address = tmux.wait_for("n1", r"Address\s+(tcrt1\w+)", "the address").group(1)
    tmux.keys("n1", "c")
    tmux.wait_for("n1", r"tmux buffer", "the toast naming the tmux buffer")
    assert tmux.run("show-buffer") == address
    tmux.keys("n1", "q")
    tmux.wait_for("n1", r"\[exited 0\]", "a clean exit")
