"""Consensus rules as pure functions. Each failure is a ValidationError with a stable code.

Context-free checks need only the object, the parameters and the current
time; contextual checks need the parent (header rules) or the account state
(transaction rules).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .amounts import format_amount
from .block import Block, BlockHeader
from .errors import ValidationError
from .params import NetworkParams
from .pow import check_proof_of_work, median_time_past
from .rejections import Code
from .tx import COINBASE_SENDER, NO_SIGNATURE, Transaction

SigVerifier = Callable[[Transaction], bool]


def check_tx_context_free(tx: Transaction, params: NetworkParams, verify: SigVerifier) -> None:
    """Rules for a payment that hold whatever the state: network, amounts, signature."""
    if tx.network_id != params.network_id:
        raise ValidationError(
            f"transaction is for network {tx.network_id:#x}, not {params.name}", Code.WRONG_NETWORK,
            field="network_id", value=f"{tx.network_id:#x}", expected=f"{params.network_id:#x}",
        )
    if tx.is_coinbase:
        raise ValidationError("a coinbase is only valid as a block's first transaction",
                              Code.UNEXPECTED_COINBASE)
    if tx.amount <= 0:
        raise ValidationError("amount must be positive", Code.BAD_AMOUNT, field="amount",
                              value=format_amount(tx.amount), expected="above 0")
    if tx.amount > params.max_money:
        raise ValidationError("amount exceeds the maximum money supply", Code.BAD_AMOUNT,
                              field="amount", value=format_amount(tx.amount),
                              expected=f"at most {format_amount(params.max_money)}")
    if tx.fee > params.max_money or tx.amount + tx.fee > params.max_money:
        raise ValidationError("fee exceeds the maximum money supply", Code.BAD_FEE, field="fee",
                              value=format_amount(tx.fee),
                              expected=f"amount + fee at most {format_amount(params.max_money)}")
    if not verify(tx):
        raise ValidationError("signature does not verify", Code.BAD_SIGNATURE, field="signature",
                              value=tx.signature[:8].hex() + "…",
                              expected="a signature by the sender's key")


def check_header_context_free(header: BlockHeader, params: NetworkParams, now: int) -> None:
    check_proof_of_work(header.hash, header.bits, params.pow_limit_bits)
    if header.time > now + params.max_future_time:
        raise ValidationError("block time is too far in the future", Code.TIME_TOO_NEW,
                              field="time", value=str(header.time),
                              expected=f"at most {now + params.max_future_time} "
                              f"(now + {params.max_future_time} s)")


def check_block_context_free(
    block: Block, params: NetworkParams, now: int, verify: SigVerifier
) -> None:
    """Everything about a block that needs neither its parent nor the state."""
    check_header_context_free(block.header, params, now)
    if block.size > params.max_block_size:
        raise ValidationError(f"block is {block.size} bytes, limit {params.max_block_size}",
                              Code.BLOCK_TOO_LARGE, field="size", value=f"{block.size} bytes",
                              expected=f"at most {params.max_block_size} bytes")
    if not block.txs:
        raise ValidationError("block has no transactions", Code.NO_COINBASE)
    coinbase = block.txs[0]
    if not coinbase.is_coinbase:
        raise ValidationError("first transaction is not a coinbase", Code.NO_COINBASE)
    if coinbase.network_id != params.network_id:
        raise ValidationError("coinbase is for another network", Code.WRONG_NETWORK)
    if coinbase.fee != 0 or coinbase.signature != NO_SIGNATURE:
        raise ValidationError("coinbase carries a fee or signature", Code.BAD_COINBASE)
    txids = block.txids
    if len(set(txids)) != len(txids):
        raise ValidationError("block contains a repeated transaction", Code.DUPLICATE_TXID)
    if block.computed_merkle_root() != block.header.merkle_root:
        raise ValidationError("Merkle root does not match the transactions", Code.BAD_MERKLE,
                              field="merkle_root", value=block.header.merkle_root[::-1].hex(),
                              expected=block.computed_merkle_root()[::-1].hex())
    for tx in block.txs[1:]:
        if tx.sender == COINBASE_SENDER:
            raise ValidationError("block has more than one coinbase", Code.MULTIPLE_COINBASE)
        check_tx_context_free(tx, params, verify)


def check_header_context(
    header: BlockHeader, expected_bits: int, previous_times: Sequence[int]
) -> None:
    """Rules that need the parent: difficulty as scheduled, time above median-time-past."""
    if header.bits != expected_bits:
        raise ValidationError(
            f"bits {header.bits:08x} differ from the required {expected_bits:08x}", Code.BAD_BITS,
            field="bits", value=f"{header.bits:08x}", expected=f"{expected_bits:08x}",
        )
    mtp = median_time_past(previous_times)
    if header.time <= mtp:
        raise ValidationError(f"block time {header.time} is not above median time past {mtp}",
                              Code.TIME_TOO_OLD, field="time", value=str(header.time),
                              expected=f"after {mtp}, the median of the last "
                              f"{len(previous_times)} blocks")


class AccountReader(Protocol):
    def account(self, address: bytes) -> tuple[int, int]:
        """(balance, nonce) of an address; (0, 0) when it has never been seen."""
        ...


@dataclass
class StateDelta:
    """New account values a block produces, and the values they replace (undo data)."""

    new: dict[bytes, tuple[int, int]]
    old: dict[bytes, tuple[int, int] | None]
    fees: int


def check_payment_against(tx: Transaction, balance: int, nonce: int) -> None:
    if tx.nonce < nonce:
        raise ValidationError(f"nonce {tx.nonce} already used (next is {nonce})", Code.BAD_NONCE,
                              field="nonce", value=str(tx.nonce), expected=str(nonce))
    if tx.nonce > nonce:
        raise ValidationError(f"nonce {tx.nonce} skips ahead (next is {nonce})", Code.BAD_NONCE,
                              field="nonce", value=str(tx.nonce), expected=str(nonce))
    if tx.amount + tx.fee > balance:
        raise ValidationError(
            f"spends {tx.amount + tx.fee} units but the balance is {balance}",
            Code.INSUFFICIENT_FUNDS, field="amount + fee",
            value=format_amount(tx.amount + tx.fee), expected=f"at most {format_amount(balance)}",
        )


def apply_block(
    block: Block, height: int, params: NetworkParams, state: AccountReader,
    exists: Callable[[bytes], bool],
) -> StateDelta:
    """Run a block's transactions against the parent state; raise on the first broken rule."""
    new: dict[bytes, tuple[int, int]] = {}
    old: dict[bytes, tuple[int, int] | None] = {}

    def get(address: bytes) -> tuple[int, int]:
        if address in new:
            return new[address]
        value = state.account(address)
        old[address] = value if exists(address) else None
        return value

    fees = 0
    for tx in block.txs[1:]:
        balance, nonce = get(tx.sender_address)
        check_payment_against(tx, balance, nonce)
        new[tx.sender_address] = (balance - tx.amount - tx.fee, nonce + 1)
        r_balance, r_nonce = get(tx.recipient)
        new[tx.recipient] = (r_balance + tx.amount, r_nonce)
        fees += tx.fee
    coinbase = block.txs[0]
    if coinbase.nonce != height:
        raise ValidationError(f"coinbase commits to height {coinbase.nonce}, not {height}",
                              Code.BAD_COINBASE_HEIGHT, field="coinbase height",
                              value=str(coinbase.nonce), expected=str(height))
    allowed = params.subsidy(height) + fees
    if coinbase.amount > allowed:
        raise ValidationError(f"coinbase pays {coinbase.amount}, at most {allowed} allowed",
                              Code.BAD_COINBASE_AMOUNT, field="coinbase amount",
                              value=format_amount(coinbase.amount),
                              expected=f"at most {format_amount(allowed)}")
    if coinbase.amount:
        balance, nonce = get(coinbase.recipient)
        new[coinbase.recipient] = (balance + coinbase.amount, nonce)
    return StateDelta(new, old, fees)


def block_addresses(block: Block) -> set[bytes]:
    """Every account a block's transactions touch (built in two passes: a generator a
    transaction cost a sync's writer about 1 µs a payment)."""
    found = {tx.recipient for tx in block.txs}
    found.update([tx.sender_address for tx in block.txs if not tx.is_coinbase])
    return found


def address_rows(block: Block) -> list[tuple[bytes, int, bytes]]:
    """(address, position, txid) once for each account each transaction touches: the
    rows of the address history."""
    rows: list[tuple[bytes, int, bytes]] = []
    append = rows.append
    for pos, tx in enumerate(block.txs):
        txid, to = tx.txid, tx.recipient
        if not tx.is_coinbase:
            sender = tx.sender_address
            append((sender, pos, txid))
            if sender == to:
                continue
        append((to, pos, txid))
    return rows
