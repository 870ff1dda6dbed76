"""The address history's rows and the accounts a block touches, built without a
generator a transaction: each account once per transaction (a payment to oneself is
one row), the coinbase's recipient only."""

from __future__ import annotations

from tests.builders import genesis_link, key, make_block, pay
from tuichain.core.params import REGTEST
from tuichain.core.validation import address_rows, block_addresses


def test_rows_name_each_account_of_each_transaction_once() -> None:
    a, b, c = key(1), key(2), key(3)
    txs = [
        pay(a, b.address_digest, 5, 0),
        pay(b, b.address_digest, 1, 0),  # to itself
        pay(c, a.address_digest, 2, 0),
    ]
    block = make_block(REGTEST, genesis_link(), txs, miner=c.address_digest).block
    rows = address_rows(block)
    coinbase = block.txs[0]
    assert rows == [
        (c.address_digest, 0, coinbase.txid),
        (a.address_digest, 1, txs[0].txid), (b.address_digest, 1, txs[0].txid),
        (b.address_digest, 2, txs[1].txid),
        (c.address_digest, 3, txs[2].txid), (a.address_digest, 3, txs[2].txid),
    ]
    assert block_addresses(block) == {a.address_digest, b.address_digest, c.address_digest}
    # The coinbase's sender is no account: a block of it alone touches its miner only.
    empty = make_block(REGTEST, genesis_link(), [], miner=a.address_digest).block
    assert address_rows(empty) == [(a.address_digest, 0, empty.txs[0].txid)]
    assert block_addresses(empty) == {a.address_digest}
