"""The client side of the control channel: which node a command means, and its cookie.

A command names a node the way the wallet commands do (``--data-dir``, or
``--port`` with ``--network`` for the per-port default directory). The URL
comes from the port; the token from that directory's ``control.cookie``,
which only exists while the node runs, so a missing cookie says "not
running" before any connection is tried.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import SettingsError, default_data_dir, load_stored
from ..control import PREFIX, cookie_path
from .args import DEFAULT_PORT, Parser, parse_network, parse_port
from .errors import EXIT_FAILURE, CliError

TIMEOUT = 15.0  # seconds per read; a long `mine` answer sends a progress line every second
MAX_RESPONSE = 4 * 1024 * 1024

# No proxies: the node is on this machine, whatever http_proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Target:
    data_dir: Path
    url: str  # http://host:port, no trailing slash


def common_parser() -> argparse.ArgumentParser:
    """--data-dir/--port/--network/--json, as the wallet commands take them."""
    common = Parser(add_help=False)
    where = common.add_argument_group("which node")
    where.add_argument("--data-dir", type=Path, default=None,
                       help="the node's data directory")
    where.add_argument("--port", type=parse_port, default=None,
                       help=f"the node's port: selects its default data directory "
                       f"(default {DEFAULT_PORT}) and URL")
    where.add_argument("--network", type=parse_network, default=None,
                       help="network of the default data directory (default: default)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    return common


def resolve(ns: argparse.Namespace) -> Target:
    data_dir: Path = ns.data_dir or default_data_dir(
        ns.port or DEFAULT_PORT, ns.network or "default"
    )
    try:
        settings = load_stored(data_dir)
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None
    port = ns.port
    if port is None:
        stored = settings.get("port")
        if isinstance(stored, int):
            port = stored
        elif ns.data_dir is None:
            port = DEFAULT_PORT
        else:
            raise CliError(f"no node port known for {data_dir}: pass --port")
    host = str(settings.get("host", "127.0.0.1"))
    if host in ("", "0.0.0.0", "::"):  # listening everywhere: reach it locally
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return Target(data_dir, f"http://{host}:{port}")


def error_text(status: int, raw: bytes) -> str:
    """The node's {"error": {"code", "message"}} as one line, or the bare HTTP status."""
    try:
        err = json.loads(raw)["error"]
        return f"{err['message']} ({err['code']})"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"


def get_public(url: str, path: str, timeout: float = TIMEOUT) -> Any:
    """GET a public REST path; OSError/URLError when the node does not answer."""
    with _OPENER.open(url + path, timeout=timeout) as response:
        return json.loads(response.read(MAX_RESPONSE))


class ControlClient:
    def __init__(self, target: Target) -> None:
        self.target = target

    def _token(self) -> str:
        path = cookie_path(self.target.data_dir)
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            raise CliError(
                f"no control cookie in {self.target.data_dir}: is the node of this "
                "data directory running? (`tuichain wait` waits for it)",
                EXIT_FAILURE,
            ) from None
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror or exc}", EXIT_FAILURE) from None

    def _open(self, method: str, path: str, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.target.url + PREFIX + path, data=data, method=method,
            headers={"Authorization": f"Bearer {self._token()}",
                     "Content-Type": "application/json"},
        )
        try:
            return _OPENER.open(request, timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:
            text = error_text(exc.code, exc.read(MAX_RESPONSE))
            if exc.code == 401:
                text = (f"the node at {self.target.url} refused the cookie of "
                        f"{self.target.data_dir}: is that directory's node the one on "
                        "this port?")
            raise CliError(text, EXIT_FAILURE) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise CliError(
                f"cannot reach the node at {self.target.url} ({reason}): is it running?",
                EXIT_FAILURE,
            ) from None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        with self._open(method, path, body) as response:
            try:
                return json.loads(response.read(MAX_RESPONSE))
            except ValueError:
                raise CliError(f"the node at {self.target.url} did not answer with JSON",
                               EXIT_FAILURE) from None

    def lines(self, path: str, body: Any = None) -> Iterator[dict[str, Any]]:
        """A streamed answer, one JSON object per line."""
        with self._open("POST", path, body) as response:
            try:
                for raw in response:
                    doc = json.loads(raw)
                    if isinstance(doc, dict):
                        yield doc
            except (OSError, ValueError) as exc:
                raise CliError(f"the answer from {self.target.url} broke off: {exc}",
                               EXIT_FAILURE) from None
