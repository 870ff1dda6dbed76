"""`tuichain mine | mining | status | wait`: drive a running node from scripts.

`mine`, `mining` and `status` go through the control channel (the cookie);
`wait` only reads the public /api/status, because it runs before the node
(and so its cookie) exists. Each prints text, or JSON with --json; exit 0 on
success, else one line on stderr and a non-zero code.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.error
from collections.abc import Callable, Sequence
from typing import Any

from ..control import MAX_MINE
from .args import Parser, seconds, whole_number
from .control import ControlClient, common_parser, get_public, resolve
from .errors import EXIT_FAILURE, CliError

WAIT_TIMEOUT = 60.0  # seconds `tuichain wait` gives the node by default
POLL = 0.1


_count = whole_number(1, MAX_MINE)
_seconds = seconds()
_height = whole_number(0, kind="a height", what="a height")


# --- mine ---------------------------------------------------------------------------


def cmd_mine(ns: argparse.Namespace) -> int:
    client = ControlClient(resolve(ns))
    body: dict[str, Any] = {"blocks": ns.count}
    if ns.to:
        body["to"] = ns.to
    show = sys.stderr.isatty() and not ns.json
    summary: dict[str, Any] | None = None
    for line in client.lines("/mine", body):
        if "error" in line:
            raise CliError(f"mining failed: {line['error'].get('message')}", EXIT_FAILURE)
        if "progress" in line and show:
            p = line["progress"]
            sys.stderr.write(f"\rmining block {p['done'] + 1}/{p['of']}: "
                             f"{p['rate'] / 1000:.1f} kH/s, {p['hashes']} hashes   ")
            sys.stderr.flush()
        elif "hash" in line and not ns.json:
            if show:
                sys.stderr.write("\r" + " " * 60 + "\r")
            print(line["hash"], flush=True)
        elif "blocks" in line:
            summary = line
    if summary is None:
        raise CliError("the node ended its answer before the last block", EXIT_FAILURE)
    if ns.json:
        print(json.dumps(summary))
    return 0


# --- mining start | stop | status -----------------------------------------------------


def cmd_mining(ns: argparse.Namespace) -> int:
    client = ControlClient(resolve(ns))
    if ns.action == "status":
        doc = client.call("GET", "/mining")
    else:
        doc = client.call("POST", f"/mining/{ns.action}")
    if ns.json:
        print(json.dumps(doc))
        return 0
    state = "mining continuously" if doc["continuous"] else (
        "mining a block" if doc["running"] else "not mining")
    print(f"{state}, {doc['workers']} worker{'s' if doc['workers'] != 1 else ''}, "
          f"{doc['hash_rate'] / 1000:.1f} kH/s, {doc['found']} found"
          + (f" (last error: {doc['last_error']})" if doc.get("last_error") else ""))
    return 0


# --- status ---------------------------------------------------------------------------


def cmd_status(ns: argparse.Namespace) -> int:
    doc = ControlClient(resolve(ns)).call("GET", "/status")
    if ns.json:
        print(json.dumps(doc))
        return 0
    mining = doc["mining"]
    rows = [
        ("network", doc["network"]),
        ("height", doc["height"]),
        ("tip", doc["tip"]),
        ("peers", doc["peers"]),
        ("mempool", f"{doc['mempool']} transaction{'s' if doc['mempool'] != 1 else ''}"),
        ("mining", ("continuous" if mining["continuous"] else "one block")
         if mining["running"] else "off"),
        ("sync", doc["sync"]),
        ("version", doc["version"]),
        ("errors", "; ".join(doc["errors"]) or "none"),
    ]
    for name, value in rows:
        print(f"{name:<9}{value}")
    return 0


# --- wait -----------------------------------------------------------------------------


def _poll(probe: Callable[[], dict[str, Any] | None], timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout if timeout > 0 else None
    while True:
        try:
            found = probe()
        except (OSError, ValueError, urllib.error.URLError, http.client.HTTPException):
            found = None
        if found is not None:
            return found
        if deadline is not None and time.monotonic() >= deadline:
            raise CliError(f"gave up after {timeout:g} s waiting for {what}", EXIT_FAILURE)
        time.sleep(POLL)


def cmd_wait(ns: argparse.Namespace) -> int:
    target = resolve(ns)

    def ready() -> dict[str, Any] | None:
        doc = get_public(target.url, "/api/status", timeout=2.0)
        if not isinstance(doc, dict):
            return None
        return doc if ns.height is None or int(doc["height"]) >= ns.height else None

    what = f"the node at {target.url}" + (
        f" to reach height {ns.height}" if ns.height is not None else " to answer")
    doc = _poll(ready, ns.timeout, what)
    if ns.json:
        print(json.dumps(doc))
    else:
        print(f"height {doc['height']}")
    return 0


# --- parser ---------------------------------------------------------------------------


def build_parser(command: str) -> argparse.ArgumentParser:
    common = common_parser()
    if command == "mine":
        p = Parser(prog="tuichain mine", parents=[common],
                   description="Mine N blocks now and print their hashes (regtest: instant; "
                   "default network: with the node's workers, showing progress).")
        p.add_argument("count", type=_count, metavar="N", help="how many blocks")
        p.add_argument("--to", default=None, metavar="ADDRESS",
                       help="pay the blocks to this address (default: the node's wallet, "
                       "created if it has none)")
        p.set_defaults(func=cmd_mine)
    elif command == "mining":
        p = Parser(prog="tuichain mining", parents=[common],
                   description="Start or stop continuous mining, or show it.")
        p.add_argument("action", choices=("start", "stop", "status"))
        p.set_defaults(func=cmd_mining)
    elif command == "status":
        p = Parser(prog="tuichain status", parents=[common],
                   description="Network, height, tip, peers, mempool, mining, sync, "
                   "version and errors of a running node.")
        p.set_defaults(func=cmd_status)
    else:
        p = Parser(prog="tuichain wait", parents=[common],
                   description="Return once the node answers (and has reached --height).")
        p.add_argument("--timeout", type=_seconds, default=WAIT_TIMEOUT, metavar="S",
                       help=f"give up after S seconds, 0 for never (default {WAIT_TIMEOUT:g})")
        p.add_argument("--height", type=_height, default=None, metavar="H",
                       help="also wait until the chain is at least H blocks high")
        p.set_defaults(func=cmd_wait)
    return p


COMMANDS = ("mine", "mining", "status", "wait")


def main(command: str, argv: Sequence[str]) -> int:
    ns = build_parser(command).parse_args(list(argv))
    try:
        return int(ns.func(ns))
    except CliError as exc:
        print(f"tuichain {command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"tuichain {command}: interrupted", file=sys.stderr)
        return 130
