"""`tuichain faucet`: pay devnet coins from the devnet's own faucet wallet.

The faucet is a wallet in ``<devnet>/faucet`` (made on first use; play
money, so unencrypted). It pays like any wallet (signed here, submitted to
node1 over REST), so the chain stays honest: when it has too little, node1
mines blocks to it first (regtest, where that is instant), and on regtest one
more block confirms the payment before the command returns.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import wallet as keystore
from ..core.amounts import format_amount, parse_amount
from ..core.errors import AddressError, AmountError, WalletError
from ..core.keys import decode_address
from ..core.params import NetworkParams, get_network
from ..core.policy import Policy
from ..core.tx import make_payment
from ..devnet.state import Devnet, DevnetError, default_devnet_dir
from .args import Parser
from .control import ControlClient, Target
from .errors import EXIT_FAILURE, CliError
from .wallet import RestClient, RestError, _fetch_account

FAUCET_DIR = "faucet"


@dataclass(frozen=True)
class Payment:
    txid: str
    to: str
    amount: int


class Faucet:
    def __init__(self, net: Devnet) -> None:
        self.net = net
        self.params: NetworkParams = get_network(net.network)
        self.fee = Policy.for_network(self.params).min_fee
        node1 = net.members[0]
        self.rest = RestClient(node1.url)
        self.control = ControlClient(Target(node1.data_dir, node1.url))
        self.data_dir = net.directory / FAUCET_DIR
        try:
            if not keystore.wallet_exists(self.data_dir):
                self.data_dir.mkdir(parents=True, exist_ok=True)
                keystore.create_wallet(self.data_dir, None)
            self.info, self.key = keystore.load_wallet(self.data_dir, None)
        except WalletError as exc:
            raise CliError(f"faucet wallet: {exc.reason}", EXIT_FAILURE) from None
        self.address = self.info.address(self.params.hrp)

    def mine(self, blocks: int) -> None:
        """Mine `blocks` blocks on node1, paying the faucet (it refills as it confirms)."""
        for line in self.control.lines("/mine", {"blocks": blocks, "to": self.address}):
            if "error" in line:
                raise CliError(f"mining failed: {line['error'].get('message')}", EXIT_FAILURE)

    def _top_up(self, needed: int) -> None:
        while (available := _fetch_account(self.rest, self.address).available) < needed:
            if self.params.name != "regtest":
                raise CliError(
                    f"the faucet {self.address} has {format_amount(available)} coins, "
                    f"{format_amount(needed)} needed: mine to it with "
                    f"`tuichain mine N --to {self.address}`",
                    EXIT_FAILURE,
                )
            height = int(self.rest.get_json("/api/status")["height"])
            subsidy = self.params.subsidy(height + 1)
            if subsidy == 0:
                raise CliError("the chain pays no more subsidy: the faucet cannot refill",
                               EXIT_FAILURE)
            self.mine(-(-(needed - available) // subsidy))

    def pay(self, to: str, amount: int) -> Payment:
        recipient = decode_address(self.params.hrp, to)
        self._top_up(amount + self.fee)
        account = _fetch_account(self.rest, self.address)
        tx = make_payment(self.key, self.params.network_id, recipient, amount, self.fee,
                          account.next_nonce)
        try:
            self.rest.post_json("/api/txs", {"tx": tx.encoded.hex()})
        except RestError as exc:
            raise CliError(f"the node refused the faucet's payment: {exc}", EXIT_FAILURE) from None
        return Payment(tx.txid_hex, to, amount)

    def confirm(self) -> dict[str, Any] | None:
        """On regtest, mine the pending payments into a block; its hash and height."""
        if self.params.name != "regtest":
            return None
        self.mine(1)
        status = self.rest.get_json("/api/status")
        return {"block": status["tip"], "height": status["height"]}


def load_devnet(directory: Path | None) -> Devnet:
    path = (directory or default_devnet_dir()).expanduser().absolute()
    try:
        net = Devnet.load(path)
    except DevnetError as exc:
        raise CliError(str(exc), EXIT_FAILURE) from None
    if net is None:
        raise CliError(f"no devnet in {path}: start one with `tuichain devnet`", EXIT_FAILURE)
    return net


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tuichain faucet",
        description="Pay coins from the devnet's faucet wallet (refilled by mining on "
        "regtest); on regtest the payment is confirmed in a block before it returns.",
    )
    parser.add_argument("--to", required=True, metavar="ADDRESS")
    parser.add_argument("--amount", required=True, help="in coins, e.g. 10")
    parser.add_argument("--dir", type=Path, default=None, metavar="D",
                        help="the devnet folder (default $TUICHAIN_HOME/devnet)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def cmd_faucet(ns: argparse.Namespace) -> int:
    net = load_devnet(ns.dir)
    try:
        amount = parse_amount(ns.amount)
    except AmountError as exc:
        raise CliError(f"bad --amount {ns.amount!r}: {exc.reason}") from None
    faucet = Faucet(net)
    try:
        decode_address(faucet.params.hrp, ns.to)
    except AddressError as exc:
        raise CliError(f"bad --to address: {exc.reason}") from None
    payment = faucet.pay(ns.to, amount)
    block = faucet.confirm()
    if ns.json:
        print(json.dumps({"txid": payment.txid, "to": payment.to, "amount": amount,
                          "amount_coins": format_amount(amount), **(block or {})}))
        return 0
    print(payment.txid)
    where = f"in block {block['height']}" if block else "pending until a block is mined"
    print(f"faucet paid {format_amount(amount)} to {ns.to} ({where})", file=sys.stderr)
    return 0


def main(argv: Sequence[str]) -> int:
    ns = build_parser().parse_args(list(argv))
    try:
        return cmd_faucet(ns)
    except CliError as exc:
        print(f"tuichain faucet: {exc}", file=sys.stderr)
        return exc.code
    except RestError as exc:
        print(f"tuichain faucet: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("tuichain faucet: interrupted", file=sys.stderr)
        return 130
