"""What the commands share on the command line: the parser, value types, port checks.

The ``parse_*`` functions are argparse types: argparse turns their
ArgumentTypeError into a one-line usage error.
"""

from __future__ import annotations

import argparse
import errno
import math
import socket
from collections.abc import Callable
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


def whole_number(
    low: int, high: int | None = None, *, kind: str = "a whole number", what: str = ""
) -> Callable[[str], int]:
    """An argparse type for an integer from `low` (to `high`)."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {kind}: {text!r}") from None
        if n < low or (high is not None and n > high):
            span = f"{low} or more" if high is None else f"{low}-{high}"
            raise argparse.ArgumentTypeError(f"{what} must be {span}, got {n}".lstrip())
        return n

    return parse


def seconds(what: str = "", *, allow_zero: bool = True) -> Callable[[str], float]:
    """An argparse type for a finite number of seconds, 0 or more (or more than 0)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            bound = "0 or more" if allow_zero else "more than 0"
            raise argparse.ArgumentTypeError(
                f"{what} must be {bound} seconds, got {text}".lstrip())
        return value

    return parse


parse_port = whole_number(1, MAX_PORT, kind="a port number", what="port")
parse_workers = whole_number(1, MAX_WORKERS, what="miner workers")
parse_pace = seconds("mining pace")
parse_block_time = seconds("block time", allow_zero=False)


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
