"""`tuichain devnet --fund AMOUNT`: every node's wallet starts with AMOUNT coins.

The coins come honestly from the chain: node1 mines blocks to the devnet's
faucet wallet, the faucet pays each node what it lacks of AMOUNT (so a
restart tops up rather than piling on), one more block confirms the
payments, and every node is waited for until it has that block.
"""

from __future__ import annotations

import time

from ..cli.errors import CliError
from ..cli.faucet import Faucet
from ..cli.wallet import _fetch_account
from ..core import wallet as keystore
from ..core.amounts import format_amount, parse_amount
from ..core.errors import AmountError
from .state import READY_TIMEOUT, Devnet, DevnetError, fetch_status, out


def fund_nodes(net: Devnet, amount_text: str) -> None:
    try:
        amount = parse_amount(amount_text)
    except AmountError as exc:
        raise DevnetError(f"bad --fund {amount_text!r}: {exc.reason}") from None
    try:
        faucet = Faucet(net)
        paid = 0
        for node in net.members:
            address = keystore.read_wallet_info(node.data_dir).address(faucet.params.hrp)
            have = _fetch_account(faucet.rest, address).available
            if have < amount:
                faucet.pay(address, amount - have)
                paid += 1
        if not paid:
            out(f"every node already has {format_amount(amount)} coins")
            return
        block = faucet.confirm()
    except CliError as exc:
        raise DevnetError(f"funding the nodes failed: {exc}") from None
    height = int(block["height"]) if block else 0
    _wait_all_at(net, height)
    out(f"funded {paid} node{'s' if paid != 1 else ''} to {format_amount(amount)} coins "
        f"(faucet {faucet.address})")


def _wait_all_at(net: Devnet, height: int) -> None:
    """Each node has the funding block, so `wallet balance` on any node shows the coins."""
    deadline = time.monotonic() + READY_TIMEOUT
    for node in net.members:
        while True:
            doc = fetch_status(node)
            if doc is not None and int(doc.get("height", 0)) >= height:
                break
            if time.monotonic() > deadline:
                raise DevnetError(f"{node.name} did not reach height {height} (the funding block)")
            time.sleep(0.1)
