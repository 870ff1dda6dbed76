"""`tuichain wallet ...`: use a node's wallet from scripts and SSH sessions, no dashboard.

The key never leaves this process: transactions are signed here and only the
signed bytes go to the node, over its public REST API (the same POST any
client may make). Everything checkable locally (address, amount, fee, memo,
funds) is checked before anything is signed or sent; such a refusal exits
with code 2, any other failure (node unreachable, node refused) with 1.

REST goes through urllib, so these commands need no event loop, and through
an opener without proxies: a wallet talking to its own node on 127.0.0.1
must not be routed through whatever http_proxy the environment names.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ..config import (
    SettingsError,
    default_data_dir,
    devnet_data_dir,
    existing_data_dirs,
    load_stored,
    save_state,
    tuichain_home,
)
from ..core import wallet as keystore
from ..core.amounts import format_amount, parse_amount
from ..core.errors import AddressError, AmountError, CoreError, ValidationError, WalletError
from ..core.keys import PrivateKey, decode_address
from ..core.params import NetworkParams, get_network
from ..core.payment import check_payment
from ..core.policy import DEFAULT_POLICY, Policy
from ..core.tx import MAX_MEMO, make_payment
from ..datadir import DataDirError, lock_data_dir
from .args import DEFAULT_PORT, Parser, parse_network, parse_port, seconds, whole_number
from .errors import EXIT_FAILURE, CliError

PASSPHRASE_ENV = "TUICHAIN_PASSPHRASE"
REST_TIMEOUT = 15.0  # seconds
MAX_RESPONSE = 4 * 1024 * 1024  # bytes; an address with a long history is still far below
SEND_WAIT_TIMEOUT = 600.0  # seconds `send --wait` waits for its confirmations by default
WAIT_POLL = 0.1


class RestError(Exception):
    """The node answered, but with an error (its message is meant for people)."""


class RestClient:
    def __init__(self, base: str, timeout: float = REST_TIMEOUT) -> None:
        self.base = base
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get_json(self, path: str) -> Any:
        return self._call("GET", path, None)

    def post_json(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body)

    def _call(self, method: str, path: str, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read(MAX_RESPONSE)
        except urllib.error.HTTPError as exc:
            raise RestError(_error_text(exc.code, exc.read(MAX_RESPONSE))) from None
        except (urllib.error.URLError, OSError) as exc:
            reason: object = getattr(exc, "reason", None) or exc
            if isinstance(reason, ConnectionRefusedError):
                reason = "connection refused"  # not "[Errno 111] Connection refused"
            elif isinstance(reason, OSError) and reason.strerror:
                reason = reason.strerror.lower()
            raise CliError(
                f"cannot reach the node at {self.base} ({reason}): is it running? "
                "(choose it with --node URL)",
                EXIT_FAILURE,
            ) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise RestError(f"the node at {self.base} did not answer with JSON") from None


def _error_text(status: int, raw: bytes) -> str:
    """The node's {"error": {"code", "message"}} as one line, or the bare HTTP status."""
    try:
        err = json.loads(raw)["error"]
        return f"{err['message']} ({err['code']})"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"


@dataclass(frozen=True)
class WalletContext:
    data_dir: Path
    params: NetworkParams
    settings: dict[str, Any]
    port: int | None


def _resolve(ns: argparse.Namespace) -> WalletContext:
    """The data directory and network the user means, checked against what it stores."""
    if ns.devnet is not None and ns.data_dir is not None:
        raise CliError("--devnet K and --data-dir both choose the directory: give one")
    data_dir: Path = ns.data_dir or (
        devnet_data_dir(ns.devnet)
        if ns.devnet is not None
        else default_data_dir(ns.port or DEFAULT_PORT, ns.network or "default")
    )
    try:
        settings = load_stored(data_dir)
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None
    stored = settings.get("network")
    if ns.network and isinstance(stored, str) and stored != ns.network:
        raise CliError(
            f"{data_dir} belongs to a {stored!r} node, not {ns.network!r}: "
            f"use --network {stored} or another --data-dir"
        )
    name = ns.network or (stored if isinstance(stored, str) else "default")
    try:
        params = get_network(name)
    except ValueError as exc:
        raise CliError(
            f"bad network stored in {data_dir}: {exc}", EXIT_FAILURE
        ) from None
    port = ns.port
    if port is None and isinstance(settings.get("port"), int):
        port = settings["port"]
    return WalletContext(data_dir, params, settings, port)


def _node_url(ns: argparse.Namespace, ctx: WalletContext) -> str:
    if ns.node:
        node: str = ns.node
        parts = urlsplit(node)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CliError(f"bad --node URL {node!r}: expected http://HOST:PORT")
        return node.rstrip("/")
    if ctx.port is None:
        raise CliError(f"no node port known for {ctx.data_dir}: pass --node URL or --port")
    host = str(ctx.settings.get("host", "127.0.0.1"))
    if host in ("", "0.0.0.0", "::"):  # listening everywhere: reach it locally
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{ctx.port}"


def _how_to_choose(name: str) -> str:
    """The options that select data directory `name` (relative to $TUICHAIN_HOME)."""
    if name.startswith("devnet/node") and name[len("devnet/node"):].isdigit():
        return f"--devnet {name[len('devnet/node'):]}"
    network, _, port = name.rpartition("-")
    if port.isdigit():
        return f"--port {port}" + (f" --network {network}" if network else "")
    return f"--data-dir {tuichain_home() / name}"


def _missing_dir(data_dir: Path) -> CliError:
    """No such directory: say which ones exist, rather than suggest a new wallet here."""
    found = existing_data_dirs()
    if not found:
        return CliError(
            f"no node data directory at {data_dir} (and none under {tuichain_home()}): "
            "start a node first (`tuichain --port 5000`) or create a wallet "
            "(`tuichain wallet new`)",
            EXIT_FAILURE,
        )
    listed = ", ".join(f"{name} ({_how_to_choose(name)})" for name in found)
    return CliError(
        f"no node data directory at {data_dir}; those under {tuichain_home()}: {listed}",
        EXIT_FAILURE,
    )


def _read_info(ctx: WalletContext) -> keystore.WalletInfo:
    if not ctx.data_dir.exists():
        raise _missing_dir(ctx.data_dir)
    try:
        return keystore.read_wallet_info(ctx.data_dir)
    except WalletError as exc:
        raise CliError(exc.reason, EXIT_FAILURE) from None


def _passphrase(prompt: str, *, confirm: bool = False) -> str:
    env = os.environ.get(PASSPHRASE_ENV)
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise CliError(
            f"the wallet passphrase is needed: set {PASSPHRASE_ENV} or run in a terminal",
            EXIT_FAILURE,
        )
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat passphrase: ") != first:
        raise CliError("the passphrases differ; nothing was written", EXIT_FAILURE)
    return first


def _load_key(ctx: WalletContext) -> PrivateKey:
    info = _read_info(ctx)
    passphrase = _passphrase("Wallet passphrase: ") if info.encrypted else None
    try:
        _, key = keystore.load_wallet(ctx.data_dir, passphrase)
    except WalletError as exc:
        raise CliError(exc.reason, EXIT_FAILURE) from None
    return key


# --- commands -------------------------------------------------------------------


def cmd_new(ns: argparse.Namespace) -> int:
    ctx = _resolve(ns)
    # The only command that writes in the data directory (wallet.json, maybe
    # settings.toml): it waits for a node there to stop, like a second node would.
    # The others only read, and work beside a running node.
    try:
        lock = lock_data_dir(ctx.data_dir)
    except DataDirError as exc:
        raise CliError(f"{exc.reason}: stop that node to create a wallet here",
                       EXIT_FAILURE) from None
    with lock:
        return _create(ns, ctx)


def _create(ns: argparse.Namespace, ctx: WalletContext) -> int:
    if keystore.wallet_exists(ctx.data_dir):
        raise CliError(
            f"a wallet already exists at {keystore.wallet_path(ctx.data_dir)}; "
            "it was left untouched",
            EXIT_FAILURE,
        )
    passphrase: str | None = None
    if ns.passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n")
        if not passphrase:
            raise CliError("no passphrase on stdin; nothing was written")
    elif ns.encrypt:
        passphrase = _passphrase("New wallet passphrase: ", confirm=True)
    try:
        info, _ = keystore.create_wallet(ctx.data_dir, passphrase)
    except WalletError as exc:
        raise CliError(exc.reason, EXIT_FAILURE) from None
    if "network" not in ctx.settings:
        # Remember the network, so later commands (and the node) on this
        # directory know the address prefix without --network.
        save_state(ctx.data_dir, network=ctx.params.name)
    kind = "encrypted" if info.encrypted else "unencrypted: keep this file private"
    print(f"created wallet {info.path} ({kind})", file=sys.stderr)
    print(info.address(ctx.params.hrp))
    return 0


def cmd_address(ns: argparse.Namespace) -> int:
    ctx = _resolve(ns)
    print(_read_info(ctx).address(ctx.params.hrp))
    return 0


@dataclass(frozen=True)
class Account:
    balance: int
    pending: int  # net effect of this address's mempool transactions
    available: int
    next_nonce: int  # the nonce after the pending ones: what a new payment must carry


def _check_node_network(client: RestClient, params: NetworkParams) -> None:
    """A wallet of one network talking to a node of another gets told so, not a 4xx puzzle."""
    network = client.get_json("/api/status").get("network")
    if network != params.name:
        raise CliError(
            f"the node at {client.base} runs the {network!r} network, but this "
            f"wallet is for {params.name!r}: choose the node with --node URL"
        )


def _fetch_account(client: RestClient, address: str) -> Account:
    # limit=1: only the account fields are wanted, not a page of history.
    doc = client.get_json(f"/api/addresses/{quote(address)}?limit=1")
    try:
        return Account(
            _units(doc["balance"]),
            _units(doc["pending"]),
            _units(doc["available"]),
            _units(doc["next_nonce"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError(
            f"unexpected account data from {client.base}: {exc!r}", EXIT_FAILURE
        ) from None


def _units(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not an integer: {value!r}")
    return value


def cmd_balance(ns: argparse.Namespace) -> int:
    ctx = _resolve(ns)
    address = _read_info(ctx).address(ctx.params.hrp)
    client = RestClient(_node_url(ns, ctx))
    _check_node_network(client, ctx.params)
    account = _fetch_account(client, address)
    if ns.json:
        print(
            json.dumps(
                {
                    "address": address,
                    "confirmed": account.balance,
                    "pending": account.pending,
                    "available": account.available,
                    # The same amounts in coins, as exact decimal strings (no float rounding).
                    "confirmed_coins": format_amount(account.balance),
                    "pending_coins": format_amount(account.pending),
                    "available_coins": format_amount(account.available),
                }
            )
        )
        return 0
    print(f"address    {address}")
    print(f"confirmed  {format_amount(account.balance)}")
    print(f"pending    {_signed(account.pending)}")
    print(f"available  {format_amount(account.available)}")
    return 0


def _signed(units: int) -> str:
    return format_amount(units) if units <= 0 else "+" + format_amount(units)


def _check_send_args(
    ns: argparse.Namespace, params: NetworkParams
) -> tuple[bytes, int, int, bytes]:
    """Every local check, before a key is touched; CliError(code 2) for each problem."""
    try:
        recipient = decode_address(params.hrp, ns.to)
    except AddressError as exc:
        raise CliError(f"bad --to address: {exc.reason}") from None
    try:
        amount = parse_amount(ns.amount)
    except AmountError as exc:
        raise CliError(f"bad --amount {ns.amount!r}: {exc.reason}") from None
    if ns.fee is None:
        fee = Policy.for_network(params).min_fee
    else:
        try:
            fee = parse_amount(ns.fee, allow_zero=True)
        except AmountError as exc:
            raise CliError(f"bad --fee {ns.fee!r}: {exc.reason}") from None
    memo = ns.memo.encode("utf-8")
    if len(memo) > MAX_MEMO:
        raise CliError(f"memo is {len(memo)} bytes; at most {MAX_MEMO} fit")
    return recipient, amount, fee, memo


def cmd_send(ns: argparse.Namespace) -> int:
    ctx = _resolve(ns)
    recipient, amount, fee, memo = _check_send_args(ns, ctx.params)
    info = _read_info(ctx)
    sender = info.address(ctx.params.hrp)
    client = RestClient(_node_url(ns, ctx))
    _check_node_network(client, ctx.params)
    account = _fetch_account(client, sender)
    try:
        check_payment(amount=amount, fee=fee, available=account.available,
                      recipient=recipient, own_address=info.address_digest)
    except ValidationError as exc:
        raise CliError(exc.reason) from None
    key = _load_key(ctx)
    tx = make_payment(key, ctx.params.network_id, recipient, amount, fee, account.next_nonce, memo)
    try:
        answer = client.post_json("/api/txs", {"tx": tx.encoded.hex()})
    except RestError as exc:
        raise CliError(f"the node refused the transaction: {exc}", EXIT_FAILURE) from None
    txid = answer.get("txid", tx.txid_hex) if isinstance(answer, dict) else tx.txid_hex
    if ns.wait:
        return _wait_confirmed(ns, client, txid, amount, fee, account.next_nonce)
    if ns.json:
        print(json.dumps({"txid": txid, "amount": amount, "fee": fee, "nonce": account.next_nonce}))
    else:
        print(txid)
        print(
            f"sent {format_amount(amount)} to {ns.to} (fee {format_amount(fee)}, "
            f"nonce {account.next_nonce})",
            file=sys.stderr,
        )
    return 0


def _wait_confirmed(
    ns: argparse.Namespace, client: RestClient, txid: str, amount: int, fee: int, nonce: int
) -> int:
    """`send --wait`: poll the transaction until it is K blocks deep; print its block."""
    deadline = time.monotonic() + ns.timeout if ns.timeout > 0 else None
    while True:
        try:
            info = client.get_json(f"/api/txs/{txid}")
        except RestError as exc:
            raise CliError(
                f"transaction {txid} was sent, but the node no longer knows it "
                f"(replaced or evicted?): {exc}",
                EXIT_FAILURE,
            ) from None
        confirmations = int(info.get("confirmations") or 0)
        if info.get("block") and confirmations >= ns.confirmations:
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise CliError(
                f"transaction {txid} was sent, but has {confirmations} of "
                f"{ns.confirmations} confirmations after {ns.timeout:g} s "
                "(is anything mining? try `tuichain mine 1`)",
                EXIT_FAILURE,
            )
        time.sleep(WAIT_POLL)
    if ns.json:
        print(json.dumps({"txid": txid, "amount": amount, "fee": fee, "nonce": nonce,
                          "block": info["block"], "height": info["height"],
                          "confirmations": confirmations}))
    else:
        print(info["block"])
        plural = "" if confirmations == 1 else "s"
        print(f"sent {format_amount(amount)} to {ns.to} in transaction {txid}: block "
              f"{info['height']}, {confirmations} confirmation{plural}", file=sys.stderr)
    return 0


_confirmations = whole_number(1)
_timeout = seconds()


# --- parser ---------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a node number from 1, not {text!r}")
    return value



def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    where = common.add_argument_group("which wallet")
    where.add_argument(
        "--data-dir", type=Path, default=None, help="the node's data directory (holds wallet.json)"
    )
    where.add_argument(
        "--devnet",
        type=_positive,
        default=None,
        metavar="K",
        help="node K of the devnet (tuichain devnet), e.g. --devnet 2",
    )
    where.add_argument(
        "--port",
        type=parse_port,
        default=None,
        help=f"the node's port: selects its default data directory "
        f"(default {DEFAULT_PORT}) and node URL",
    )
    where.add_argument(
        "--network",
        type=parse_network,
        default=None,
        help="network (default: the data directory's, else default)",
    )
    remote = Parser(add_help=False)
    remote.add_argument(
        "--node",
        default=None,
        metavar="URL",
        help="the node's REST URL (default http://127.0.0.1:<its port>)",
    )
    remote.add_argument("--json", action="store_true", help="print one JSON object")

    parser = Parser(
        prog="tuichain wallet",
        description="Wallet commands: keys stay here, signed transactions go to the node. "
        f"An encrypted wallet's passphrase is read from ${PASSPHRASE_ENV} "
        "or asked for.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    new = sub.add_parser("new", parents=[common], help="create this node's wallet")
    how = new.add_mutually_exclusive_group()
    how.add_argument(
        "--encrypt",
        action="store_true",
        help=f"encrypt with a passphrase (from ${PASSPHRASE_ENV} or a prompt)",
    )
    how.add_argument(
        "--passphrase-stdin",
        action="store_true",
        help="encrypt with the passphrase on the first line of stdin",
    )
    new.set_defaults(func=cmd_new)
    sub.add_parser("address", parents=[common], help="print the wallet's address").set_defaults(
        func=cmd_address
    )
    sub.add_parser(
        "balance", parents=[common, remote], help="confirmed, pending and available balance"
    ).set_defaults(func=cmd_balance)
    send = sub.add_parser("send", parents=[common, remote], help="sign and submit a payment")
    send.add_argument("--to", required=True, metavar="ADDRESS")
    send.add_argument("--amount", required=True, help="in coins, e.g. 1.5")
    send.add_argument(
        "--fee", default=None, help=f"in coins (default {format_amount(DEFAULT_POLICY.min_fee)})"
    )
    send.add_argument("--memo", default="", help=f"note of at most {MAX_MEMO} bytes")
    send.add_argument("--wait", action="store_true",
                      help="return once the payment is confirmed, printing its block hash")
    send.add_argument("--confirmations", type=_confirmations, default=1, metavar="K",
                      help="with --wait: blocks to wait for (default 1)")
    send.add_argument("--timeout", type=_timeout, default=SEND_WAIT_TIMEOUT, metavar="S",
                      help=f"with --wait: give up after S seconds, 0 for never "
                      f"(default {SEND_WAIT_TIMEOUT:g})")
    send.set_defaults(func=cmd_send)
    return parser


def main(argv: Sequence[str]) -> int:
    ns = build_parser().parse_args(list(argv))
    try:
        return int(ns.func(ns))
    except CliError as exc:
        print(f"tuichain wallet: {exc}", file=sys.stderr)
        return exc.code
    except RestError as exc:
        print(f"tuichain wallet: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except CoreError as exc:
        print(f"tuichain wallet: {exc.reason}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"tuichain wallet: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("tuichain wallet: interrupted", file=sys.stderr)
        return 130
