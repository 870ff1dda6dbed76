"""JSON views of chain objects for the REST API and the wallet CLI.

Hashes and txids are in display form (byte-reversed hex, like Bitcoin's), and
so is every hash of a Merkle branch. Amounts appear twice: integer units under
the plain name and an exact decimal string under `<name>_decimal`.
"""

from __future__ import annotations

from typing import Any

from ..core.amounts import format_amount
from ..core.block import Block, BlockHeader
from ..core.hashing import hash_to_hex
from ..core.keys import encode_address
from ..core.ledger_reads import AccountInfo, HistoryItem, TxInfo
from ..core.mempool import MempoolEntry
from ..core.store import HAVE_DATA, HEADER_ONLY, INVALID, HeaderEntry
from ..core.tx import Transaction
from .peer import PeerInfo

STATUS_NAMES = {HEADER_ONLY: "header-only", HAVE_DATA: "stored", INVALID: "invalid"}


def amount(name: str, units: int) -> dict[str, Any]:
    return {name: units, f"{name}_decimal": format_amount(units)}


def memo_text(memo: bytes) -> str | None:
    """The memo as text when it is printable UTF-8, else None (memo_hex always has it)."""
    try:
        text = memo.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def tx_json(tx: Transaction, hrp: str) -> dict[str, Any]:
    return {
        "txid": tx.txid_hex,
        "coinbase": tx.is_coinbase,
        "from": None if tx.is_coinbase else encode_address(hrp, tx.sender_address),
        "to": encode_address(hrp, tx.recipient),
        **amount("amount", tx.amount),
        **amount("fee", tx.fee),
        "nonce": tx.nonce,
        "memo": memo_text(tx.memo),
        "memo_hex": tx.memo.hex(),
        "size": tx.size,
        "hex": tx.encoded.hex(),
    }


def header_json(header: BlockHeader) -> dict[str, Any]:
    return {
        "hash": header.hash_hex,
        "version": header.version,
        "prev": hash_to_hex(header.prev_hash),
        "merkle_root": hash_to_hex(header.merkle_root),
        "time": header.time,
        "bits": f"{header.bits:08x}",
        "nonce": header.nonce,
    }


def block_summary(entry: HeaderEntry, size: int, tx_count: int) -> dict[str, Any]:
    return {
        **header_json(entry.header),
        "height": entry.height,
        "chainwork": hex(entry.chainwork),
        "size": size,
        "tx_count": tx_count,
    }


def block_json(
    block: Block, entry: HeaderEntry, active: bool, tip_height: int, hrp: str
) -> dict[str, Any]:
    return {
        **header_json(block.header),
        "height": entry.height,
        "chainwork": hex(entry.chainwork),
        "status": "active" if active else STATUS_NAMES.get(entry.status, "side"),
        "confirmations": tip_height - entry.height + 1 if active else 0,
        "size": block.size,
        "tx_count": len(block.txs),
        "txs": [tx_json(tx, hrp) for tx in block.txs],
    }


def tx_info_json(info: TxInfo, hrp: str) -> dict[str, Any]:
    out = tx_json(info.tx, hrp)
    out.update(
        {
            "in_mempool": info.in_mempool,
            "block": None if info.block_hash is None else hash_to_hex(info.block_hash),
            "height": info.height,
            "confirmations": info.confirmations,
            "proof": None,
        }
    )
    if info.block_hash is not None and info.merkle_root is not None:
        out["proof"] = {
            "index": info.position,
            "branch": [hash_to_hex(h) for h in info.proof],
            "root": hash_to_hex(info.merkle_root),
        }
    return out


def mempool_entry_json(entry: MempoolEntry, hrp: str) -> dict[str, Any]:
    return {**tx_json(entry.tx, hrp), "added": entry.added, "fee_rate": round(entry.fee_rate, 4)}


def account_json(
    address: str, account: AccountInfo, history: list[HistoryItem], hrp: str
) -> dict[str, Any]:
    return {
        "address": address,
        **amount("balance", account.balance),
        **amount("available", account.available),
        **amount("pending", account.pending_delta),
        "nonce": account.nonce,
        "next_nonce": account.next_nonce,
        "history": [
            {
                **tx_json(item.tx, hrp),
                "height": item.height,
                "position": item.position,
                "confirmations": item.confirmations,
            }
            for item in history
        ],
    }


def peer_json(info: PeerInfo) -> dict[str, Any]:
    return {
        "peer_id": info.peer_id,
        "url": info.url,
        "direction": info.direction,
        "node_id": info.node_id,
        "height": info.height,
        "chainwork": hex(info.chainwork),
        "latency_ms": None if info.latency_ms is None else round(info.latency_ms, 2),
        "score": info.score,
        "connected_since": info.connected_since,
        "bytes_sent": info.bytes_sent,
        "bytes_received": info.bytes_received,
        "messages_sent": info.messages_sent,
        "messages_received": info.messages_received,
    }
