"""`tuichain devnet`: several local nodes on consecutive ports, connected, in one command.

The command line and the start, stop, status and logs flows; what a devnet is
lives in state, its processes in procs and tmux.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from ..cli.args import (
    Parser,
    check_port_free,
    parse_block_time,
    parse_network,
    parse_pace,
    parse_port,
    whole_number,
)
from ..cli.errors import EXIT_FAILURE, EXIT_USAGE, CliError
from ..config import MAX_PORT
from ..control.lab import HOST, Lab
from ..core import wallet as keystore
from ..core.errors import WalletError
from ..core.params import get_network
from . import procs, tmux
from .links import COMMANDS as LINK_COMMANDS
from .links import links_main
from .state import (
    DEFAULT_BASE_PORT,
    DEFAULT_NETWORK,
    DEFAULT_NODES,
    LOCK_FILE,
    Devnet,
    DevnetError,
    default_devnet_dir,
    fetch_status,
    node_command,
    out,
    read_pid,
    session_name,
    wait_ready,
    write_pid,
)

# --- command line -------------------------------------------------------------------

HELP = """\
Start N connected local nodes on consecutive ports (node1 on --base-port, node2 on
the next, ...), each with its own data directory and wallet under one devnet folder.
Every node connects to every other (full mesh). Running it again reuses the chains.

Without --tmux the nodes run headless in the background (each in its own process
group, pid files in the devnet folder). `tuichain devnet` then stays in the
foreground printing their combined log, each line prefixed with [nodeK]; Ctrl-C
stops all nodes. With --detach it returns as soon as every node answers; see the
log with `tuichain devnet logs -f`. Either way `tuichain devnet stop` (from any
terminal) stops them cleanly: SIGTERM, then SIGKILL after a timeout.

With --tmux each node runs the dashboard in its own pane of the tmux session
"tuichain-devnet" (attached when run from a terminal); `tuichain devnet stop`
quits the dashboards and closes the session.
"""

STOP_HELP = """\
Stop every node of the devnet cleanly: headless nodes get SIGTERM (dashboards in
tmux their quit key), then SIGKILL if they have not stopped after a timeout; the
tmux session is closed. The chains stay: `tuichain devnet` again picks them up.
"""

LOGS_HELP = """\
The combined output of the headless devnet nodes, each line prefixed with [nodeK]
(each node's full log is also in <dir>/nodeK/node.log).
"""

EPILOG = """\
commands:
  tuichain devnet [options]            start (or restart) the devnet
  tuichain devnet stop [--dir D]       stop every node of the devnet
  tuichain devnet status [--dir D]     each node's height, peers, mempool (exit 0: all up)
  tuichain devnet logs [-f] [--dir D]  the combined log of headless nodes
  tuichain devnet split 1,2/3          cut the devnet into groups (no message crosses)
  tuichain devnet heal                 one network again
  tuichain devnet delay 1-3 800ms      slow a link (`delay clear` removes every delay)
  tuichain devnet links [--json]       each link: up/cut, delay, messages and bytes

examples:
  tuichain devnet --nodes 3 --mine-on 1      three regtest nodes, node1 mining
  tuichain devnet --nodes 4 --tmux           four dashboards in tmux panes
"""


_positive = whole_number(1)


def _parser(prog: str, description: str = HELP) -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
        description=description,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="D",
        help="the devnet folder (default $TUICHAIN_HOME/devnet or ~/.tuichain/devnet)",
    )
    return parser


def _start_parser() -> argparse.ArgumentParser:
    parser = _parser("tuichain devnet")
    parser.add_argument(
        "--nodes",
        type=_positive,
        default=None,
        metavar="N",
        help=f"how many nodes (default {DEFAULT_NODES}, or as last time)",
    )
    parser.add_argument(
        "--network",
        type=parse_network,
        default=None,
        help=f"regtest (instant blocks) or default (default {DEFAULT_NETWORK}, or as last time)",
    )
    parser.add_argument(
        "--base-port",
        type=parse_port,
        default=None,
        metavar="P",
        help=f"port of node1; node K listens on P+K-1 (default "
        f"{DEFAULT_BASE_PORT}, or as last time)",
    )
    parser.add_argument(
        "--mine-on",
        type=_positive,
        action="append",
        default=[],
        metavar="K",
        help="node K mines continuously (repeatable: --mine-on 1 --mine-on 3)",
    )
    parser.add_argument(
        "--mining-pace",
        type=parse_pace,
        default=None,
        metavar="SECONDS",
        help="pause between blocks on mining nodes (default: the network's)",
    )
    parser.add_argument(
        "--fund",
        default=None,
        metavar="AMOUNT",
        help="regtest: start every node's wallet with AMOUNT coins, paid by the devnet's "
        "faucet from mined blocks (topped up on a restart)",
    )
    parser.add_argument(
        "--automine",
        action="store_true",
        help="regtest: node1 mines a block as soon as a transaction enters the mempool",
    )
    parser.add_argument(
        "--block-time",
        type=parse_block_time,
        default=None,
        metavar="SECONDS",
        help="regtest: node1 mines a block every SECONDS",
    )
    parser.add_argument(
        "--tmux",
        action="store_true",
        help="run the dashboards in tmux panes instead of headless nodes",
    )
    parser.add_argument(
        "--tmux-socket",
        default=None,
        metavar="NAME",
        help="use a separate tmux server (tmux -L NAME)",
    )
    parser.add_argument(
        "--detach",
        action="store_true",
        help="headless: return once the nodes are up instead of showing "
        "their log; tmux: do not attach",
    )
    return parser


def devnet_main(argv: list[str]) -> int:
    """Entry point for `tuichain devnet ...`; returns the exit code."""
    args = list(argv)
    if args and args[0] in LINK_COMMANDS:
        return links_main(args[0], args[1:], _directory)
    command = args.pop(0) if args and args[0] in ("stop", "status", "logs") else "start"
    try:
        if command == "stop":
            ns = _parser("tuichain devnet stop", STOP_HELP).parse_args(args)
            return stop_devnet(_directory(ns.dir))
        if command == "status":
            parser = _parser(
                "tuichain devnet status", "Height, peers and mempool of each devnet node."
            )
            parser.add_argument("--json", action="store_true", help="print one JSON object")
            ns = parser.parse_args(args)
            return print_status(_directory(ns.dir), as_json=ns.json)
        if command == "logs":
            parser = _parser("tuichain devnet logs", LOGS_HELP)
            parser.add_argument(
                "-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C"
            )
            parser.add_argument(
                "-n",
                "--lines",
                type=_positive,
                default=20,
                help="lines per node to show first (default 20)",
            )
            ns = parser.parse_args(args)
            return show_logs(_directory(ns.dir), follow=ns.follow, lines=ns.lines)
        ns = _start_parser().parse_args(args)
        return start_devnet(ns)
    except DevnetError as exc:
        print(f"tuichain devnet: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


def _directory(given: Path | None) -> Path:
    directory = (given or default_devnet_dir()).expanduser().absolute()
    if directory.exists() and not directory.is_dir():
        raise DevnetError(f"{directory} exists and is not a directory")
    return directory


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One start or stop at a time per devnet folder (two terminals, one folder)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOCK_FILE).open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DevnetError(
                f"another `tuichain devnet` is starting or stopping {directory}; wait for it"
            ) from None
        yield


# --- start ---------------------------------------------------------------------------


def _plan(ns: argparse.Namespace) -> Devnet:
    directory = _directory(ns.dir)
    previous = Devnet.load(directory)
    net = previous or Devnet(directory=directory)
    if previous and ns.network and ns.network != previous.network:
        raise DevnetError(
            f"{directory} holds a {previous.network!r} devnet, not {ns.network!r}: "
            f"use --network {previous.network}, or another --dir"
        )
    net.network = ns.network or net.network
    net.nodes = ns.nodes or net.nodes
    net.base_port = ns.base_port or net.base_port
    if net.nodes > 64:
        raise DevnetError(
            f"{net.nodes} nodes is too many for one machine's devnet (at most 64)", EXIT_USAGE
        )
    if net.base_port + net.nodes - 1 > MAX_PORT:
        raise DevnetError(
            f"ports {net.base_port}-{net.base_port + net.nodes - 1} run past "
            f"{MAX_PORT}: choose a lower --base-port",
            EXIT_USAGE,
        )
    bad = [k for k in ns.mine_on if k > net.nodes]
    if bad:
        raise DevnetError(f"--mine-on {bad[0]}: there are only {net.nodes} nodes", EXIT_USAGE)
    net.mine_on = sorted(set(ns.mine_on))
    net.mining_pace = ns.mining_pace
    net.automine = ns.automine
    net.block_time = ns.block_time
    if net.network != "regtest":
        for flag, given in (("--fund", ns.fund), ("--automine", ns.automine),
                            ("--block-time", ns.block_time)):
            if given:
                raise DevnetError(f"{flag} is for a regtest devnet, where a block is instant",
                                  EXIT_USAGE)
    net.mode = "tmux" if ns.tmux else "headless"
    net.tmux_socket = ns.tmux_socket
    net.session = session_name(directory)
    return net


def _check_not_running(previous: Devnet | None, directory: Path) -> None:
    if previous is None:
        return
    running = procs.running_nodes(previous)
    if running or (previous.mode == "tmux" and tmux.session_exists(previous)):
        which = ", ".join(f"{n.name} (pid {pid})" for n, pid in running) or "its tmux session"
        raise DevnetError(
            f"a devnet is already running in {directory}: {which}. "
            f"Stop it with `tuichain devnet stop --dir {directory}`"
        )


def _check_ports(net: Devnet) -> None:
    for node in net.members:
        try:
            check_port_free(HOST, node.port)
        except CliError as exc:
            raise DevnetError(
                f"{node.name}: {exc}; choose another --base-port, e.g. "
                f"--base-port {net.base_port + 100}"
            ) from None


def _prepare_wallets(net: Devnet) -> None:
    """A wallet per node (unencrypted: devnet coins are play money); never replace one."""
    for node in net.members:
        node.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            if keystore.wallet_exists(node.data_dir):
                keystore.read_wallet_info(node.data_dir)
            else:
                keystore.create_wallet(node.data_dir, None)
        except WalletError as exc:
            raise DevnetError(f"{node.name}: {exc.reason}") from None


def start_devnet(ns: argparse.Namespace) -> int:
    net = _plan(ns)
    if net.mode == "tmux":
        tmux.require_tmux()
    with _locked(net.directory):
        _check_not_running(Devnet.load(net.directory), net.directory)
        if net.mode == "tmux":
            _check_not_running(net, net.directory)
        _check_ports(net)
        _prepare_wallets(net)
        net.save()
        Lab(net.directory, []).reset()  # nodes start with no link filter: one network
        if net.mode == "tmux":
            try:
                tmux.start_tmux(net)
            except BaseException:
                procs.stop_nodes(net, quiet=True)
                raise
        else:
            started = _start_headless(net)
        if ns.fund is not None:
            _fund(net, ns.fund)
    _print_summary(net)
    if net.mode == "tmux":
        return tmux.attach_tmux(net, attach=not ns.detach)
    if ns.detach:
        print(f"\nlog: tuichain devnet logs -f --dir {shlex.quote(str(net.directory))}")
        print(f"stop: tuichain devnet stop --dir {shlex.quote(str(net.directory))}")
        return 0
    print("\nshowing the combined log; Ctrl-C stops the devnet\n", flush=True)
    return _foreground(net, started)


def _running(proc: subprocess.Popen[bytes]) -> bool:
    return proc.poll() is None


def _start_headless(net: Devnet) -> dict[int, subprocess.Popen[bytes]]:
    started: dict[int, subprocess.Popen[bytes]] = {}
    try:
        for node in net.members:
            with node.output_file.open("wb") as out:
                proc = subprocess.Popen(
                    node_command(net, node, headless=True),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    cwd=node.data_dir,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},  # tracebacks reach output.log
                )
            started[node.index] = proc
            write_pid(node, proc.pid)
            print(f"{node.name}: starting on port {node.port} (pid {proc.pid})", flush=True)
            wait_ready(node, partial(_running, proc), partial(procs.tail, node.output_file))
    except BaseException:
        procs.stop_nodes(net, quiet=True)
        raise
    return started


def _fund(net: Devnet, amount_text: str) -> None:
    from .fund import fund_nodes

    try:
        fund_nodes(net, amount_text)
    except BaseException:
        procs.stop_nodes(net, quiet=True)
        raise


def _print_summary(net: Devnet) -> None:
    hrp = get_network(net.network).hrp
    print(f"\ndevnet ({net.network}, {net.nodes} nodes) in {net.directory}")
    for node in net.members:
        address = keystore.read_wallet_info(node.data_dir).address(hrp)
        role = "  mining" if node.index in net.mine_on else ""
        print(f"  {node.name}  {node.url}  {address}{role}")
    print(f"wallet: tuichain wallet balance --data-dir {shlex.quote(str(net.members[0].data_dir))}")


def _foreground(net: Devnet, started: dict[int, subprocess.Popen[bytes]]) -> int:
    """Print the combined log until Ctrl-C (then stop the nodes) or until all nodes exit."""

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A closed terminal or a plain `kill` of this process stops the devnet too.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    follower = procs.LogFollower(net.members, from_start=True)
    try:
        while any(p.poll() is None for p in started.values()):
            follower.pump()
            time.sleep(0.2)
        follower.pump()
        out("all nodes have stopped")
        return 0
    except KeyboardInterrupt:
        out("\nstopping the devnet...")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop
        try:
            with _locked(net.directory):
                procs.stop_nodes(net)
        except DevnetError:
            # `devnet stop` in another terminal is already at it; a second SIGTERM
            # would make the nodes exit without a clean stop, so only wait.
            out("another `tuichain devnet stop` is stopping the nodes; waiting for them")
            for proc in started.values():
                proc.wait()
        follower.pump()
        return 0


# --- stop, status, logs --------------------------------------------------------------


def stop_devnet(directory: Path) -> int:
    net = Devnet.load(directory)
    if net is None:
        print(f"no devnet in {directory}")
        return 0
    with _locked(directory):
        stopped = procs.stop_nodes(net)
    if not stopped:
        print(f"no devnet node was running in {directory}")
    return 0


def print_status(directory: Path, *, as_json: bool = False) -> int:
    net = Devnet.load(directory)
    if net is None:
        if as_json:
            print(json.dumps({"directory": str(directory), "running": False, "nodes": []}))
        else:
            print(f"no devnet in {directory}")
        return EXIT_FAILURE
    if as_json:
        return _print_status_json(net)
    print(f"devnet ({net.network}, {net.nodes} nodes, {net.mode}) in {directory}")
    answering = 0
    for node in net.members:
        pid = read_pid(node)
        alive = pid is not None and procs.is_node_process(pid, node)
        doc = fetch_status(node) if alive else None
        if doc is None:
            state = "starting or not answering" if alive else "stopped"
            print(f"  {node.name}  {node.url}  {state}")
            continue
        answering += 1
        print(
            f"  {node.name}  {node.url}  pid {pid}  height {doc.get('height')}  "
            f"peers {doc.get('peers')}  mempool {doc.get('mempool')}"
            f"{'  syncing' if doc.get('syncing') else ''}"
            f"{'  mining' if doc.get('mining') else ''}"
        )
    return 0 if answering == net.nodes else EXIT_FAILURE


def _print_status_json(net: Devnet) -> int:
    hrp = get_network(net.network).hrp
    nodes = []
    for node in net.members:
        pid = read_pid(node)
        alive = pid is not None and procs.is_node_process(pid, node)
        doc = fetch_status(node) if alive else None
        try:
            address: str | None = keystore.read_wallet_info(node.data_dir).address(hrp)
        except WalletError:
            address = None
        nodes.append({
            "name": node.name, "url": node.url, "data_dir": str(node.data_dir),
            "pid": pid if alive else None, "address": address,
            "state": "up" if doc else ("starting" if alive else "stopped"),
            "status": doc,
        })
    up = sum(1 for n in nodes if n["status"])
    print(json.dumps({
        "directory": str(net.directory), "network": net.network, "mode": net.mode,
        "running": up > 0, "all_up": up == net.nodes, "nodes": nodes,
    }))
    return 0 if up == net.nodes else EXIT_FAILURE


def show_logs(directory: Path, *, follow: bool, lines: int) -> int:
    net = Devnet.load(directory)
    if net is None:
        print(f"no devnet in {directory}")
        return EXIT_FAILURE
    follower = procs.LogFollower(net.members, from_start=False, backlog=lines)
    follower.pump()
    while follow:
        time.sleep(0.2)
        follower.pump()
    return 0
