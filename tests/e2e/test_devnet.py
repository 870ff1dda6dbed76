"""`tuichain devnet`: real node processes on 127.0.0.1, started, connected, used, stopped.

Each test gets its own devnet folder (--dir in tmp_path) and a base port whose
next ports are free; teardown runs `devnet stop` and then kills anything a
failed test may have left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tuichain.core.params import COIN, REGTEST
from tuichain.core.wallet import read_wallet_info
from tuichain.devnet.command import devnet_main
from tuichain.devnet.state import Devnet, DevnetError, node_command

from .helpers import cli_env, http_json, run_cli, wait_for

pytestmark = pytest.mark.timeout(240)

WAIT = 60.0  # seconds; bounds a failure only


def free_base_port(count: int) -> int:
    """A port P with P..P+count-1 all free on 127.0.0.1 right now."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65000:
            continue
        try:
            held = []
            for port in range(base, base + count):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise AssertionError("no run of free ports found")


def process_running(pid: int) -> bool:
    """True while pid is a live (not zombie) process; read from /proc, not from devnet code."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def group_running(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                found.append(int(entry.name))
    return found


class DevnetRun:
    """A devnet folder in tmp_path plus the commands a person would type."""

    def __init__(self, root: Path, nodes: int) -> None:
        self.home = root / "home"
        self.dir = root / "devnet"
        self.nodes = nodes
        self.base = free_base_port(nodes)
        self.seen_pids: set[int] = set()

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), self.home, timeout=timeout)

    def start_args(self, *extra: str) -> list[str]:
        return [
            "devnet",
            "--nodes",
            str(self.nodes),
            "--network",
            "regtest",
            "--base-port",
            str(self.base),
            "--dir",
            str(self.dir),
            *extra,
        ]

    def start(self, *extra: str) -> subprocess.CompletedProcess[str]:
        result = self.cli(*self.start_args("--detach", *extra))
        self.seen_pids |= set(self.pids().values())
        return result

    def stop(self) -> subprocess.CompletedProcess[str]:
        return self.cli("devnet", "stop", "--dir", str(self.dir))

    def url(self, k: int) -> str:
        return f"http://127.0.0.1:{self.base + k - 1}"

    def data_dir(self, k: int) -> Path:
        return self.dir / f"node{k}"

    def pids(self) -> dict[int, int]:
        found = {}
        for k in range(1, self.nodes + 1):
            path = self.dir / f"node{k}.pid"
            if path.exists():
                found[k] = int(path.read_text())
        return found

    def status(self, k: int) -> dict[str, Any]:
        code, doc = http_json(self.url(k) + "/api/status")
        assert code == 200, doc
        return doc

    def wallet(self, k: int, *args: str) -> dict[str, Any]:
        result = self.cli("wallet", *args, "--data-dir", str(self.data_dir(k)), "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def address(self, k: int) -> str:
        return read_wallet_info(self.data_dir(k)).address(REGTEST.hrp)

    def cleanup(self) -> None:
        if (self.dir / "devnet.json").exists():
            self.stop()
        for pid in self.seen_pids:
            for member in group_running(pid):
                os.kill(member, signal.SIGKILL)


@pytest.fixture
def devnet3(tmp_path: Path) -> Iterator[DevnetRun]:
    run = DevnetRun(tmp_path, 3)
    yield run
    run.cleanup()


def confirmed_everywhere(run: DevnetRun, txid: str) -> bool:
    for k in range(1, run.nodes + 1):
        code, doc = http_json(f"{run.url(k)}/api/txs/{txid}")
        if code != 200 or not doc.get("confirmations"):
            return False
    return True


@pytest.mark.slow
def test_three_node_devnet_relays_mines_stops_and_resumes(devnet3: DevnetRun) -> None:
    run = devnet3
    started = run.start("--mine-on", "1", "--mining-pace", "0.2")
    assert started.returncode == 0, started.stderr + started.stdout
    pids = run.pids()
    assert sorted(pids) == [1, 2, 3]
    assert all(process_running(pid) for pid in pids.values())
    for k in (1, 2, 3):
        assert (run.data_dir(k) / "wallet.json").exists()
        assert run.address(k) in started.stdout

    # Full mesh: every node ends up with both others as peers.
    for k in (1, 2, 3):
        wait_for(lambda k=k: run.status(k)["peers"] >= 2, f"node{k} to reach 2 peers", WAIT)

    wait_for(
        lambda: run.wallet(1, "balance")["available"] >= 2 * COIN, "node1 to mine some coins", WAIT
    )
    to = run.address(3)
    sent = run.wallet(1, "send", "--to", to, "--amount", "1.5")
    txid = sent["txid"]
    wait_for(lambda: confirmed_everywhere(run, txid), "the payment confirmed on all nodes", WAIT)
    assert run.wallet(3, "balance")["confirmed"] == 150_000_000

    status = run.cli("devnet", "status", "--dir", str(run.dir))
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("height") == 3

    again = run.start()
    assert again.returncode != 0
    assert "already running" in again.stderr

    heights = {k: run.status(k)["height"] for k in (1, 2, 3)}
    stopped = run.stop()
    assert stopped.returncode == 0, stopped.stderr
    for k, pid in pids.items():
        assert not process_running(pid), f"node{k} (pid {pid}) still runs"
        assert group_running(pid) == [], f"node{k} left processes behind"
        assert not (run.dir / f"node{k}.pid").exists()
        assert f"node{k} stopped" in stopped.stdout
    assert "stopped cleanly" in (run.data_dir(1) / "node.log").read_text()

    # Again, with no options: the same nodes, ports and chains (devnet.json remembers them).
    resumed = run.cli("devnet", "--dir", str(run.dir), "--detach")
    run.seen_pids |= set(run.pids().values())
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    for k in (1, 2, 3):
        assert run.status(k)["height"] >= heights[k]
        code, doc = http_json(f"{run.url(k)}/api/txs/{txid}")
        assert code == 200, doc
        assert doc.get("confirmations"), doc
    assert run.stop().returncode == 0
    assert not any(process_running(pid) for pid in run.pids().values())


@pytest.mark.slow
def test_busy_port_is_refused_clearly_and_starts_nothing(devnet3: DevnetRun) -> None:
    run = devnet3
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", run.base + 1))
        busy.listen()
        result = run.start()
    assert result.returncode == 1
    assert "node2" in result.stderr
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert run.pids() == {}


@pytest.mark.slow
def as_in_a_terminal() -> None:
    """In the child before it runs: Ctrl-C as a terminal's foreground job gets it. A
    test run started in the background (`pytest &` in a script) ignores SIGINT, every
    child inherits that, and Python then installs no KeyboardInterrupt for it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_foreground_shows_prefixed_log_and_ctrl_c_stops_nodes(tmp_path: Path) -> None:
    run = DevnetRun(tmp_path, 2)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuichain", *run.start_args()],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=cli_env(run.home),
        text=True,
        preexec_fn=as_in_a_terminal,
    )
    try:
        seen: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("[node2]") and "listening on" in line:
                break
        assert any(line.startswith("[node1]") for line in seen), "".join(seen)
        pids = run.pids()
        run.seen_pids |= set(pids.values())
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest
        assert "node1 stopped" in rest
        assert "node2 stopped" in rest
        assert not any(process_running(pid) for pid in pids.values())
    finally:
        if proc.poll() is None:
            proc.kill()
        run.cleanup()


@pytest.mark.slow
def test_stop_from_another_terminal_ends_the_foreground_devnet(tmp_path: Path) -> None:
    run = DevnetRun(tmp_path, 1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuichain", *run.start_args()],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=cli_env(run.home),
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Ctrl-C stops the devnet" in line:
                break
        run.seen_pids |= set(run.pids().values())
        assert run.stop().returncode == 0
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert "all nodes have stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
        run.cleanup()


@pytest.mark.slow
def test_tmux_devnet_shows_a_dashboard_per_pane(tmp_path: Path) -> None:
    # tmux is part of the test set-up (.ci/run installs it): fail, never skip, without it.
    assert shutil.which("tmux"), "tmux is needed for this test"
    run = DevnetRun(tmp_path, 2)
    sock = f"tuichain-test-{os.getpid()}-{run.base}"
    tmux = ["tmux", "-L", sock]
    try:
        result = run.cli(*run.start_args("--tmux", "--tmux-socket", sock, "--detach"))
        run.seen_pids |= set(run.pids().values())
        assert result.returncode == 0, result.stderr + result.stdout
        assert f"tmux -L {sock} attach" in result.stdout
        panes = subprocess.run(
            [*tmux, "list-panes", "-a", "-F", "#{pane_id} #{pane_pid}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        panes = [p.split() for p in panes if p.strip()]
        assert len(panes) == 2
        for k in (1, 2):
            wait_for(lambda k=k: run.status(k)["peers"] >= 1, f"node{k} connected", WAIT)

        def dashboard_drawn(pane: str, port: int) -> bool:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", pane], capture_output=True, text=True
            ).stdout
            return "regtest" in screen and str(port) in screen

        for (pane, _), k in zip(panes, (1, 2), strict=True):
            wait_for(
                lambda p=pane, k=k: dashboard_drawn(p, run.base + k - 1),
                f"the dashboard of node{k}",
                WAIT,
            )
        pids = run.pids()
        stopped = run.stop()
        assert stopped.returncode == 0, stopped.stderr
        assert not any(process_running(pid) for pid in pids.values())
        gone = subprocess.run(
            [*tmux, "has-session", "-t", "=" + Devnet.load(run.dir).session], capture_output=True
        )
        assert gone.returncode != 0
    finally:
        run.cleanup()
        subprocess.run([*tmux, "kill-server"], capture_output=True)


# --- no processes: command construction and devnet.json ------------------------------


def test_node_commands_form_a_full_mesh_and_mine_where_asked(tmp_path: Path) -> None:
    net = Devnet(
        directory=tmp_path, network="regtest", nodes=3, base_port=7000, mine_on=[2], mining_pace=0.5
    )
    cmds = [node_command(net, node, headless=True) for node in net.members]
    peers = [[c[i + 1] for i, a in enumerate(c) if a == "--peer"] for c in cmds]
    # Node k dials every node below it: each pair of nodes shares exactly one connection.
    assert peers == [
        [],
        ["http://127.0.0.1:7000"],
        ["http://127.0.0.1:7000", "http://127.0.0.1:7001"],
    ]
    assert [c[c.index("--port") + 1] for c in cmds] == ["7000", "7001", "7002"]
    assert [c[c.index("--data-dir") + 1] for c in cmds] == [
        str(tmp_path / f"node{k}") for k in (1, 2, 3)
    ]
    assert ["--mine" in c for c in cmds] == [False, True, False]
    assert cmds[1][cmds[1].index("--mining-pace") + 1] == "0.5"
    assert all("--headless" in c for c in cmds)
    assert "--headless" not in node_command(net, net.members[0], headless=False)


def test_devnet_json_round_trips_and_damage_is_reported(tmp_path: Path) -> None:
    net = Devnet(
        directory=tmp_path, network="default", nodes=4, base_port=6000, mode="tmux", tmux_socket="s"
    )
    net.save()
    assert Devnet.load(tmp_path) == net
    (tmp_path / "devnet.json").write_text("{not json")
    with pytest.raises(DevnetError, match="delete it"):
        Devnet.load(tmp_path)


def test_another_network_in_the_same_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Devnet(directory=tmp_path, network="regtest").save()
    code = devnet_main(["--dir", str(tmp_path), "--network", "default"])
    assert code != 0
    assert "holds a 'regtest' devnet" in capsys.readouterr().err


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    for args, needle in (
        (["--nodes", "0"], "must be 1 or more"),
        (["--nodes", "2", "--mine-on", "3"], "only 2 nodes"),
        (["--base-port", "65535", "--nodes", "2"], "past 65535"),
    ):
        result = run_cli(["devnet", "--dir", str(tmp_path / "d"), *args], tmp_path)
        assert result.returncode == 2, result
        assert needle in result.stderr
        assert "Traceback" not in result.stderr
