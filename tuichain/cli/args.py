"""What the commands share on the command line: the parser, value types, port checks.

The ``parse_*`` functions are argparse types: argparse turns their
ArgumentTypeError into a one-line usage error.
"""

from __future__ import annotations

import argparse
import errno
import math
import socket
from typing import NoReturn

from ..config import MAX_PORT, check_database_url, port_not_allowed
from ..core.params import get_network
from ..net.addrbook import normalize_url
from .errors import EXIT_FAILURE, EXIT_USAGE, CliError

DEFAULT_PORT = 5000
MAX_WORKERS = 256


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is reported in one line instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _int_in_range(text: str, low: int, high: int, kind: str, what: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {kind}: {text!r}") from None
    if not low <= n <= high:
        raise argparse.ArgumentTypeError(f"{what} must be {low}-{high}, got {n}")
    return n


def parse_port(text: str) -> int:
    return _int_in_range(text, 1, MAX_PORT, "a port number", "port")


def parse_workers(text: str) -> int:
    return _int_in_range(text, 1, MAX_WORKERS, "a whole number", "miner workers")


def parse_pace(text: str) -> float:
    try:
        pace = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(pace) or pace < 0:
        raise argparse.ArgumentTypeError(f"mining pace must be 0 or more seconds, got {text}")
    return pace


def parse_block_time(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"block time must be more than 0 seconds, got {text}")
    return seconds


def parse_network(text: str) -> str:
    try:
        get_network(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def parse_database(text: str) -> str:
    try:
        return check_database_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_peer(text: str) -> str:
    """'http://host:port', the address book's form, so settings.toml and peers.toml agree."""
    try:
        return normalize_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad peer URL {text!r}: {exc}") from None


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
        return port_not_allowed(port)
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: not an address of this machine"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
