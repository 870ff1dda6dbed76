"""The `tuichain` command: start a node (TUI or --headless), or run a wallet subcommand.

Everything a user can get wrong on the command line or in the data directory
is checked here, before any node starts, and reported as one line on stderr
with a non-zero exit code: a traceback is for bugs, not for a busy port.
Textual is imported only when the TUI actually starts, so ``--headless`` and
``tuichain wallet`` run on machines (and in tests) without a terminal UI.
"""

from __future__ import annotations

import argparse
import errno
import logging
import math
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .config import NodeConfig, SettingsError, build_config, default_data_dir, load_settings
from .core.params import NETWORKS, get_network
from .net.addrbook import normalize_url

DEFAULT_PORT = 5000
MAX_WORKERS = 256

EXIT_FAILURE = 1  # the environment said no: port taken, disk unwritable
EXIT_USAGE = 2  # the user asked for something impossible (argparse's convention)


class CliError(Exception):
    """A problem the user can fix; the message is printed as one line."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is reported in one line instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


# --- argument types: argparse turns their ValueError into a usage line ----------


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {port}")
    return port


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= n <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"miner workers must be 1-{MAX_WORKERS}, got {n}")
    return n


def _pace(text: str) -> float:
    try:
        pace = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(pace) or pace < 0:
        raise argparse.ArgumentTypeError(f"mining pace must be 0 or more seconds, got {text}")
    return pace


def _network(text: str) -> str:
    try:
        get_network(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def normalize_peer_url(text: str) -> str:
    """'http://host:port', the address book's form, so settings.toml and peers.toml agree."""
    try:
        return normalize_url(text)
    except ValueError as exc:
        raise ValueError(f"bad peer URL {text!r}: {exc}") from None


def _peer(text: str) -> str:
    try:
        return normalize_peer_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tuichain",
        description="A proof-of-work cryptocurrency node with a terminal dashboard.",
        epilog=(
            "wallet commands (sign locally, submit to a node over REST):\n"
            "  tuichain wallet new|address|balance|send ...   "
            "(see `tuichain wallet --help`)\n"
            "local test network (several nodes in one command):\n"
            "  tuichain devnet [--nodes N] ... | stop | status | logs   "
            "(see `tuichain devnet --help`)\n\n"
            "examples:\n"
            "  tuichain --port 5000                         dashboard on port 5000\n"
            "  tuichain --port 5001 --peer http://127.0.0.1:5000\n"
            "  tuichain --port 5000 --network regtest --headless --mine"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port for peers and the REST API (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--host",
        default=None,
        help="address to listen on (default 127.0.0.1, or the stored setting)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the chain, wallet and settings live "
        "(default $TUICHAIN_HOME or ~/.tuichain, one directory per port)",
    )
    parser.add_argument(
        "--network",
        type=_network,
        default=None,
        help=f"one of: {', '.join(NETWORKS)} (default: the data directory's, else default)",
    )
    parser.add_argument(
        "--peer",
        type=_peer,
        action="append",
        default=[],
        metavar="URL",
        help="connect to this peer, e.g. http://127.0.0.1:5000 (repeatable; "
        "remembered in settings.toml)",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="run without the dashboard, logging to stdout and node.log",
    )
    parser.add_argument(
        "--mine",
        action="store_true",
        help="mine continuously to this node's wallet (created if missing)",
    )
    parser.add_argument(
        "--miner-workers",
        type=_workers,
        default=None,
        metavar="N",
        help="mining processes (default 1, or the stored setting)",
    )
    parser.add_argument(
        "--mining-pace",
        type=_pace,
        default=None,
        metavar="SECONDS",
        help="pause between continuously mined blocks (default: the network's)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="log detail (default info)",
    )
    return parser


def _check_data_dir_network(data_dir: Path, network: str | None) -> None:
    """Refuse to point a node of one network at another network's directory.

    build_config would otherwise overwrite the stored network with the one
    given, leaving settings.toml and the chain database disagreeing.
    """
    try:
        stored = load_settings(data_dir).get("network")
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None
    if network is not None and isinstance(stored, str) and stored != network:
        raise CliError(
            f"{data_dir} belongs to a {stored!r} node, not {network!r}: "
            f"use --network {stored} or another --data-dir"
        )


def config_from_args(ns: argparse.Namespace) -> NodeConfig:
    data_dir: Path = ns.data_dir or default_data_dir(ns.port, ns.network or "default")
    if data_dir.exists() and not data_dir.is_dir():
        raise CliError(f"data directory {data_dir} exists and is not a directory")
    _check_data_dir_network(data_dir, ns.network)
    try:
        return build_config(
            port=ns.port,
            host=ns.host,
            data_dir=data_dir,
            network=ns.network,
            peers=ns.peer,
            mine=ns.mine,
            miner_workers=ns.miner_workers,
            mining_pace=ns.mining_pace,
        )
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None
    except (ValueError, TypeError) as exc:
        # A hand-edited settings.toml with a bad network name or a non-number.
        raise CliError(f"bad value in {data_dir / 'settings.toml'}: {exc}", EXIT_FAILURE) from None
    except OSError as exc:
        raise CliError(
            f"cannot write settings in {data_dir}: {exc.strerror or exc}", EXIT_FAILURE
        ) from None


def check_port_free(host: str, port: int) -> None:
    """Fail early and clearly if we cannot listen; the node re-checks when it binds.

    SO_REUSEADDR (which create_server sets, as aiohttp does) keeps a port
    merely in TIME_WAIT from a node just stopped from counting as busy.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CliError(f"cannot listen on {host!r}: {exc.strerror}", EXIT_FAILURE) from None
    for family, _, _, _, addr in infos:
        try:
            with socket.create_server(addr[:2], family=family):
                pass
        except OSError as exc:
            raise CliError(port_error_message(host, port, exc), EXIT_FAILURE) from None


def port_error_message(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another tuichain node?): "
            f"choose another --port"
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port}: choose a port above 1023"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: not an address of this machine"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "wallet":
        from .wallet_cli import main as wallet_main

        return wallet_main(args[1:])
    if args and args[0] == "devnet":
        from .devnet import devnet_main

        return devnet_main(args[1:])
    ns = build_parser().parse_args(args)
    try:
        config = config_from_args(ns)
        check_port_free(config.host, config.port)
    except CliError as exc:
        print(f"tuichain: {exc}", file=sys.stderr)
        return exc.code
    if ns.headless:
        from .headless import run_headless

        return run_headless(config, level=getattr(logging, ns.log_level.upper()))
    from .app import run_tui

    return run_tui(config)


if __name__ == "__main__":
    sys.exit(main())
