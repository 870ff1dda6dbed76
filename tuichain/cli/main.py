"""The `tuichain` command: start a node (TUI or --headless), or dispatch to wallet or devnet.

Everything a user can get wrong on the command line or in the data directory
is checked here, before any node starts, and reported as one line on stderr
with a non-zero exit code: a traceback is for bugs, not for a busy port.
Textual is imported only when the TUI actually starts, so ``--headless`` and
``tuichain wallet`` run on machines (and in tests) without a terminal UI.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from ..config import (
    NodeConfig,
    SettingsError,
    build_config,
    default_data_dir,
    record_start,
    stored_network,
)
from ..core.params import NETWORKS
from ..datadir import DataDirError, DataDirLock, lock_data_dir
from .args import (
    DEFAULT_PORT,
    Parser,
    check_port_free,
    parse_block_time,
    parse_database,
    parse_network,
    parse_pace,
    parse_peer,
    parse_port,
    parse_workers,
)
from .errors import EXIT_FAILURE, CliError

NODE_COMMANDS = ("mine", "mining", "status", "wait")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tuichain",
        description="A proof-of-work cryptocurrency node with a terminal dashboard.",
        epilog=(
            "wallet commands (sign locally, submit to a node over REST):\n"
            "  tuichain wallet new|address|balance|send ...   "
            "(see `tuichain wallet --help`)\n"
            "scripting a running node (through its local control channel):\n"
            "  tuichain mine N | mining start|stop|status | status | wait   "
            "(see `tuichain mine --help`)\n"
            "  tuichain faucet --to ADDRESS --amount X   (pays from the devnet's faucet)\n"
            "local test network (several nodes in one command):\n"
            "  tuichain devnet [--nodes N] ... | stop | status | logs   "
            "(see `tuichain devnet --help`)\n"
            "  tuichain lab NAME   (a narrated attack on the running devnet; "
            "see `tuichain lab --help`)\n\n"
            "examples:\n"
            "  tuichain --port 5000                         dashboard on port 5000\n"
            "  tuichain --port 5001 --peer http://127.0.0.1:5000\n"
            "  tuichain --port 5000 --network regtest --headless --mine"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--port",
        type=parse_port,
        default=DEFAULT_PORT,
        help=f"port for peers and the REST API (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--host",
        default=None,
        help="address to listen on (default 127.0.0.1, or host in settings.toml)",
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
        type=parse_network,
        default=None,
        help=f"one of: {', '.join(NETWORKS)} (default: the data directory's, else default)",
    )
    parser.add_argument(
        "--peer",
        type=parse_peer,
        action="append",
        default=[],
        metavar="URL",
        help="connect to this peer, e.g. http://127.0.0.1:5000 (repeatable; "
        "this run only: list lasting peers in settings.toml)",
    )
    parser.add_argument(
        "--db",
        type=parse_database,
        default=None,
        metavar="URL",
        help="keep the chain in PostgreSQL, e.g. postgresql://user@host:5432/dbname "
        "(default: $TUICHAIN_DB, database in settings.toml, else SQLite in the data "
        "directory; needs tuichain[postgres])",
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
        "--no-wallet",
        action="store_true",
        help="run without a wallet: wallet.json is not read (e.g. while it is being repaired)",
    )
    parser.add_argument(
        "--miner-workers",
        type=parse_workers,
        default=None,
        metavar="N",
        help="mining processes (default 1, or the dashboard's or settings.toml's)",
    )
    parser.add_argument(
        "--mining-pace",
        type=parse_pace,
        default=None,
        metavar="SECONDS",
        help="pause between continuously mined blocks (default: the network's)",
    )
    parser.add_argument(
        "--automine",
        action="store_true",
        help="regtest: mine a block as soon as a transaction enters the mempool",
    )
    parser.add_argument(
        "--block-time",
        type=parse_block_time,
        default=None,
        metavar="SECONDS",
        help="regtest: mine a block every SECONDS",
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

    Its chain database is of the stored network; opening it as another would
    leave state.toml and the chain disagreeing.
    """
    try:
        stored = stored_network(data_dir)
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None
    if network is not None and stored is not None and stored != network:
        raise CliError(
            f"{data_dir} belongs to a {stored!r} node, not {network!r}: "
            f"use --network {stored} or another --data-dir"
        )


def data_dir_from_args(ns: argparse.Namespace) -> Path:
    data_dir: Path = ns.data_dir or default_data_dir(ns.port, ns.network or "default")
    if data_dir.exists() and not data_dir.is_dir():
        raise CliError(f"data directory {data_dir} exists and is not a directory")
    return data_dir


def lock_from_args(ns: argparse.Namespace) -> DataDirLock:
    """The data directory's lock, taken before anything in it is read or written."""
    if ns.mine and ns.no_wallet:
        raise CliError("--mine needs a wallet to mine to: leave out --no-wallet")
    try:
        return lock_data_dir(data_dir_from_args(ns))
    except DataDirError as exc:
        raise CliError(exc.reason, EXIT_FAILURE) from None


def config_from_args(ns: argparse.Namespace) -> NodeConfig:
    data_dir = data_dir_from_args(ns)
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
            use_wallet=not ns.no_wallet,
            database=ns.db,
        )
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None


def _record_start(config: NodeConfig) -> None:
    try:
        record_start(config)
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None
    except OSError as exc:
        raise CliError(
            f"cannot write {config.data_dir / 'state.toml'}: {exc.strerror or exc}", EXIT_FAILURE
        ) from None


def _dev_mining(config: NodeConfig, ns: argparse.Namespace) -> NodeConfig:
    """--automine and --block-time: per run (never stored), and for regtest only."""
    if not (ns.automine or ns.block_time is not None):
        return config
    if config.network.name != "regtest":
        flag = "--automine" if ns.automine else "--block-time"
        raise CliError(f"{flag} is for regtest, where a block is instant; this node runs "
                       f"{config.network.name!r}")
    return dataclasses.replace(config, automine=ns.automine, block_time=ns.block_time)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "wallet":
        from .wallet import main as wallet_main

        return wallet_main(args[1:])
    if args and args[0] in NODE_COMMANDS:
        from .node_commands import main as node_command_main

        return node_command_main(args[0], args[1:])
    if args and args[0] == "faucet":
        from .faucet import main as faucet_main

        return faucet_main(args[1:])
    if args and args[0] == "lab":
        from ..lab.command import lab_main

        return lab_main(args[1:])
    if args and args[0] == "devnet":
        from ..devnet.command import devnet_main

        return devnet_main(args[1:])
    ns = build_parser().parse_args(args)
    try:
        # Held until this process exits: the node never runs beside another on its directory.
        lock = lock_from_args(ns)
        config = _dev_mining(config_from_args(ns), ns)
        check_port_free(config.host, config.port)
        _record_start(config)
    except CliError as exc:
        print(f"tuichain: {exc}", file=sys.stderr)
        return exc.code
    if ns.headless:
        from .headless import run_headless

        return run_headless(config, level=getattr(logging, ns.log_level.upper()), lock=lock)
    from ..app import run_tui

    return run_tui(config, lock=lock)
