"""A node's ledger checked from outside: its SQLite file read-only, its mempool over REST.

The replay here is deliberately independent of `tuichain.core.validation`: it
re-derives every balance and nonce from the block bodies with the account
rules written out plainly, so a bug in the node's own state code cannot hide
itself by being replayed. Only decoding (bytes -> Block) and signature checks
use the project's code.

Each check returns a list of problems (empty when all is well) instead of
raising, so a campaign can gather every broken invariant of a run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tuichain.core.block import Block
from tuichain.core.errors import ValidationError
from tuichain.core.hashing import hash_to_hex, hex_to_hash
from tuichain.core.params import NetworkParams
from tuichain.core.sigcache import SigCache
from tuichain.core.store import HAVE_DATA
from tuichain.core.tx import Transaction
from tuichain.core.validation import check_tx_context_free

from .helpers import NodeProcess

Accounts = dict[bytes, tuple[int, int]]


@dataclass
class ChainView:
    """The active chain as one read transaction saw it (bodies decoded, genesis at index 0)."""

    blocks: list[Block]
    accounts: Accounts = field(default_factory=dict)  # the stored table (disk reads only)
    mempool: list[Transaction] = field(default_factory=list)  # the stored table (disk reads)
    header_hashes: set[bytes] = field(default_factory=set)  # every stored header
    # A stored block with more work than the tip: the switch to it is still to come,
    # made when the chain is next opened.
    heavier_stored: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return len(self.blocks) - 1

    @property
    def tip(self) -> bytes:
        return self.blocks[-1].hash

    def txids(self) -> set[bytes]:
        return {t for b in self.blocks for t in b.txids[1:]}


def open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)


def read_store(path: Path) -> ChainView:
    """Everything of a stopped (or killed) node's chain file, with the structural checks:
    `PRAGMA integrity_check`, the `chain` table gapless from genesis, each block's
    parent the block below it, `meta.tip` the top of `chain`."""
    db = open_read_only(path)
    try:
        problems = [
            f"integrity_check: {row[0]}"
            for row in db.execute("PRAGMA integrity_check").fetchall()
            if row[0] != "ok"
        ]
        db.execute("BEGIN")
        rows = db.execute("SELECT height, hash FROM chain ORDER BY height").fetchall()
        blocks: list[Block] = []
        for i, (height, h) in enumerate(rows):
            if height != i:
                problems.append(f"chain table jumps from height {i - 1} to {height}")
                break
            data = db.execute("SELECT data FROM blocks WHERE hash=?", (h,)).fetchone()
            if data is None:
                problems.append(f"active block {i} ({hash_to_hex(bytes(h))}) has no body")
                break
            block = Block.decode(bytes(data[0]))
            if block.hash != bytes(h):
                problems.append(f"body stored for height {i} hashes differently")
            if blocks and block.header.prev_hash != blocks[-1].hash:
                problems.append(f"block {i} does not build on block {i - 1}")
            blocks.append(block)
        tip = db.execute("SELECT value FROM meta WHERE key='tip'").fetchone()
        if blocks and (tip is None or bytes(tip[0]) != blocks[-1].hash):
            problems.append(f"meta tip is not the top of the chain table (height {len(rows) - 1})")
        accounts = {
            bytes(a): (int(b), int(n))
            for a, b, n in db.execute("SELECT address, balance, nonce FROM accounts")
        }
        mempool = [Transaction.decode(bytes(r[0])) for r in db.execute("SELECT raw FROM mempool")]
        headers = {bytes(r[0]) for r in db.execute("SELECT hash FROM headers")}
        # chainwork is 32 bytes big-endian, so blobs compare as numbers.
        heavier = db.execute(
            "SELECT 1 FROM headers WHERE status=? AND chainwork > "
            "(SELECT chainwork FROM headers WHERE hash=(SELECT value FROM meta WHERE key='tip'))",
            (HAVE_DATA,),
        ).fetchone()
        db.execute("COMMIT")
    finally:
        db.close()
    return ChainView(blocks, accounts, mempool, headers, heavier is not None, problems)


def read_branch(path: Path, tip: bytes) -> list[Block]:
    """The blocks from genesis up to `tip`, following parent links, from a running node's file.

    Blocks are written before any tip points at them, so walking back from a
    tip the node reported finds every body even while the node keeps writing.
    """
    db = open_read_only(path)
    try:
        out: list[Block] = []
        h = tip
        while h != bytes(32):
            row = db.execute("SELECT data FROM blocks WHERE hash=?", (h,)).fetchone()
            assert row is not None, f"no body for {hash_to_hex(h)} on the reported chain"
            block = Block.decode(bytes(row[0]))
            out.append(block)
            h = block.header.prev_hash
        out.reverse()
        return out
    finally:
        db.close()


def replay(params: NetworkParams, blocks: Sequence[Block]) -> tuple[Accounts, list[str]]:
    """Balances and nonces from the bodies alone, genesis first, and any rule a block broke.

    An account exists once it has been touched: a payment's sender and recipient,
    a coinbase's recipient when it pays something (the node's table holds the same rows).
    """
    state: Accounts = {}
    problems: list[str] = []
    for height, block in enumerate(blocks):
        fees = 0
        for tx in block.txs[1:]:
            balance, nonce = state.get(tx.sender_address, (0, 0))
            if tx.nonce != nonce:
                problems.append(f"block {height}: nonce {tx.nonce}, account expects {nonce}")
            if tx.amount + tx.fee > balance:
                problems.append(f"block {height}: payment overspends a balance of {balance}")
            state[tx.sender_address] = (balance - tx.amount - tx.fee, nonce + 1)
            r_balance, r_nonce = state.get(tx.recipient, (0, 0))
            state[tx.recipient] = (r_balance + tx.amount, r_nonce)
            fees += tx.fee
        coinbase = block.txs[0]
        if coinbase.nonce != height:
            problems.append(f"block {height}: coinbase commits to height {coinbase.nonce}")
        if coinbase.amount > params.subsidy(height) + fees:
            problems.append(f"block {height}: coinbase claims more than subsidy plus fees")
        if coinbase.amount:
            balance, nonce = state.get(coinbase.recipient, (0, 0))
            state[coinbase.recipient] = (balance + coinbase.amount, nonce)
    return state, problems


def ledger_problems(params: NetworkParams, view: ChainView) -> list[str]:
    """The stored accounts against a replay of the stored active chain, and conservation:
    the sum of balances is exactly the subsidy issued up to the tip (fees only move coins)."""
    problems = list(view.problems)
    if not view.blocks:
        return [*problems, "no active chain at all"]
    expected, broken = replay(params, view.blocks)
    problems += broken
    if view.accounts != expected:
        wrong = [
            a for a in expected.keys() | view.accounts.keys()
            if expected.get(a) != view.accounts.get(a)
        ]
        problems.append(
            f"accounts differ from a replay of the {view.height} active blocks for "
            f"{len(wrong)} address(es), e.g. stored {view.accounts.get(wrong[0])} "
            f"replayed {expected.get(wrong[0])}"
        )
    total = sum(balance for balance, _ in view.accounts.values())
    issued = params.supply_at(view.height)
    if total != issued:
        problems.append(f"sum of balances {total} != issued subsidy {issued} at {view.height}")
    return problems


def mempool_problems_on_any(
    params: NetworkParams, pending: Sequence[Transaction], candidates: Sequence[Sequence[Block]]
) -> list[str]:
    """No problem when the mempool is valid on at least one candidate chain; else the
    problems it has on the last (the newest tip)."""
    sigs = SigCache()
    problems: list[str] = []
    for blocks in candidates:
        problems = mempool_problems(params, pending, blocks, sigs)
        if not problems:
            return []
    return problems


def mempool_problems(
    params: NetworkParams, pending: Iterable[Transaction], blocks: Sequence[Block],
    sigs: SigCache | None = None,
) -> list[str]:
    """Each pending tx must be valid on the chain ending in `blocks`: context-free rules and
    signature, not already confirmed, and each sender's txs one gapless nonce run from the
    account's nonce that the balance covers (incoming pending payments do not count)."""
    state, _ = replay(params, blocks)
    confirmed = {t for b in blocks for t in b.txids}
    sigs = SigCache() if sigs is None else sigs
    problems: list[str] = []
    seen: set[bytes] = set()
    by_sender: dict[bytes, list[Transaction]] = {}
    for tx in pending:
        if tx.txid in seen:
            problems.append(f"mempool lists {tx.txid_hex} twice")
        seen.add(tx.txid)
        if tx.txid in confirmed:
            problems.append(f"mempool holds {tx.txid_hex}, already in the active chain")
        try:
            check_tx_context_free(tx, params, sigs.verify_tx)
        except ValidationError as exc:
            problems.append(f"mempool holds {tx.txid_hex}: {exc.code} {exc.reason}")
        by_sender.setdefault(tx.sender_address, []).append(tx)
    for sender, txs in by_sender.items():
        balance, nonce = state.get(sender, (0, 0))
        for tx in sorted(txs, key=lambda t: t.nonce):
            if tx.nonce != nonce:
                problems.append(f"mempool {tx.txid_hex}: nonce {tx.nonce}, next valid is {nonce}")
                break
            if tx.amount + tx.fee > balance:
                problems.append(f"mempool {tx.txid_hex}: spends more than the {balance} left")
                break
            balance -= tx.amount + tx.fee
            nonce += 1
    return problems


def missing(expected: Iterable[bytes], blocks: Sequence[Block], pending: Iterable[Transaction]
            ) -> list[bytes]:
    """Txids of `expected` that are neither confirmed on `blocks` nor pending."""
    held = {t for b in blocks for t in b.txids} | {tx.txid for tx in pending}
    return [t for t in expected if t not in held]


@dataclass
class LiveView:
    """A running node's mempool and the chain it belongs to.

    `blocks` is the chain of the tip reported after the mempool was read. When
    the tip moved while the mempool was read, the mempool belongs to one of the
    tips in `candidates` (each a chain, genesis first), which then holds every
    tip the node could have had meanwhile; otherwise `candidates` is `[blocks]`.
    """

    blocks: list[Block]
    mempool: list[Transaction]
    candidates: list[list[Block]]


def live_view(node: NodeProcess, attempts: int = 20) -> LiveView:
    """The running node's mempool and the chain it belongs to, read as near one moment
    as REST allows.

    The mempool is read between two status reads. It comes from the ledger's writer
    thread, which also moves the tip, so an unchanged tip around it means the mempool
    belongs to that tip; the read is tried again a few times for that exact answer.
    A node that keeps moving (syncing) gives the tolerant answer: the mempool belongs
    to the tip before, the tip after, or a block the chain passed through between.
    The chains are read from the file, following parents back from the tips.
    """
    path = node.data_dir / "chain.sqlite3"
    for attempt in range(attempts):
        before = node.status()["tip"]
        doc = node.get("/api/mempool?limit=20000")
        after = node.status()["tip"]
        if after == before or attempt == attempts - 1:
            break
    pending = [Transaction.decode(bytes.fromhex(t["hex"])) for t in doc["txs"]]
    assert doc["count"] == len(pending), "mempool larger than one page"
    blocks = read_branch(path, hex_to_hash(after))
    if after == before:
        return LiveView(blocks, pending, [blocks])
    earlier = read_branch(path, hex_to_hash(before))
    shared = 0
    while shared < min(len(earlier), len(blocks)) and earlier[shared].hash == blocks[shared].hash:
        shared += 1
    candidates = [earlier] + [blocks[: n + 1] for n in range(max(shared - 1, 0), len(blocks))]
    return LiveView(blocks, pending, candidates)
