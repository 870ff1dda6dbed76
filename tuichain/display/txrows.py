"""How a transaction looks from one wallet's side: its kind and what it did to the balance."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.tx import Transaction


def tx_direction(tx: Transaction, me: bytes) -> str:
    if tx.is_coinbase:
        return "mined"
    if tx.sender_address == me:
        return "self" if tx.recipient == me else "out"
    return "in"


def fee_paid(tx: Transaction, me: bytes) -> int:
    """The fee this wallet paid: the sender pays it, never the recipient or a miner."""
    return tx.fee if not tx.is_coinbase and tx.sender_address == me else 0


def amount_change(tx: Transaction, me: bytes) -> int:
    """What the payment itself moved, fee left out: with ``-fee_paid`` it adds up to
    ``signed_change``, so a history showing both columns never counts the fee twice."""
    return signed_change(tx, me) + fee_paid(tx, me)


def signed_change(tx: Transaction, me: bytes) -> int:
    """What the transaction did to our balance."""
    change = 0
    if tx.recipient == me:
        change += tx.amount
    if not tx.is_coinbase and tx.sender_address == me:
        change -= tx.amount + tx.fee
    return change
