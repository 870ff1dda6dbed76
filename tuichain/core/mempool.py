"""Pending transactions: validated against the tip plus the sender's earlier pending txs."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

from .amounts import format_amount
from .errors import ValidationError
from .params import NetworkParams
from .policy import Policy
from .rejections import Code
from .tx import Transaction
from .validation import AccountReader, SigVerifier, check_payment_against, check_tx_context_free

# Entries at most the median fee rate is taken over (an even spread of a bigger pool).
MEDIAN_SAMPLE = 2_048


@dataclass(frozen=True)
class MempoolEntry:
    tx: Transaction
    added: float

    @property
    def fee_rate(self) -> float:
        return self.tx.fee / self.tx.size


@dataclass(frozen=True)
class MempoolPage:
    """The oldest pending entries a screen shows, and what it says of all of them."""

    entries: list[MempoolEntry]
    count: int
    fees: int


@dataclass
class AddResult:
    entry: MempoolEntry
    replaced: list[bytes] = field(default_factory=list)
    evicted: list[bytes] = field(default_factory=list)


class Mempool:
    """Not thread-safe: the ledger's writer thread owns it."""

    def __init__(self, params: NetworkParams, policy: Policy | None = None) -> None:
        self.params = params
        self.policy = Policy.for_network(params) if policy is None else policy
        self.entries: dict[bytes, MempoolEntry] = {}
        # sender address -> nonce -> txid; nonces are contiguous from the account's nonce.
        self.by_sender: dict[bytes, dict[int, bytes]] = {}
        # recipient address -> txids paying it, so a wallet's pending balance is cheap.
        self.by_recipient: dict[bytes, set[bytes]] = {}
        # sender address -> amount + fee of all its pending txs: admitting at the end of
        # a sender's nonce chain needs what the earlier ones spend, without summing them.
        self.spending: dict[bytes, int] = {}
        self.bytes = 0
        # Only a sender's last pending tx can go without breaking its nonce chain: its
        # "leaf". sender -> its leaf's txid, and a heap of (fee rate, -added, txid) of
        # leaves, kept with stale items (checked against `_leaf` as they surface), so
        # a full pool finds its cheapest leaf without looking at every sender.
        self._leaf: dict[bytes, bytes] = {}
        self._leaf_heap: list[tuple[float, float, bytes]] = []

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, txid: bytes) -> bool:
        return txid in self.entries

    def get(self, txid: bytes) -> Transaction | None:
        entry = self.entries.get(txid)
        return None if entry is None else entry.tx

    def pending_of(self, address: bytes) -> list[Transaction]:
        nonces = self.by_sender.get(address, {})
        return [self.entries[nonces[n]].tx for n in sorted(nonces)]

    def pending_balance_change(self, address: bytes) -> int:
        """Net effect of pending txs on an address: received minus sent (with fees)."""
        delta = sum(self.entries[t].tx.amount for t in self.by_recipient.get(address, ()))
        for txid in self.by_sender.get(address, {}).values():
            tx = self.entries[txid].tx
            delta -= tx.amount + tx.fee
        return delta

    def add(self, tx: Transaction, state: AccountReader, verify: SigVerifier,
            now: float) -> AddResult:
        if tx.txid in self.entries:
            raise ValidationError("transaction is already pending", Code.DUPLICATE)
        check_tx_context_free(tx, self.params, verify)
        sender = tx.sender_address
        balance, nonce = state.account(sender)
        pending = self.by_sender.get(sender, {})
        replaced: list[bytes] = []
        if tx.nonce in pending:
            old = self.entries[pending[tx.nonce]].tx
            if tx.fee <= old.fee:
                raise ValidationError(
                    f"replacing pending nonce {tx.nonce} needs a fee above {old.fee}",
                    Code.REPLACEMENT_FEE_TOO_LOW, field="fee", value=format_amount(tx.fee),
                    expected=f"above {format_amount(old.fee)}",
                )
        expected = nonce + len(pending)
        if tx.nonce < nonce:
            raise ValidationError(f"nonce {tx.nonce} already used (next is {nonce})",
                                  Code.BAD_NONCE, field="nonce", value=str(tx.nonce),
                                  expected=str(nonce))
        if tx.nonce > expected:
            raise ValidationError(f"nonce {tx.nonce} skips ahead (next is {expected})",
                                  Code.BAD_NONCE, field="nonce", value=str(tx.nonce),
                                  expected=str(expected))
        if tx.nonce == expected:
            spent = self.spending.get(sender, 0)
        else:  # a replacement: only the txs before it count
            spent = 0
            for n in range(nonce, tx.nonce):
                ptx = self.entries[pending[n]].tx
                spent += ptx.amount + ptx.fee
        check_payment_against(tx, balance - spent, tx.nonce)
        if tx.nonce not in pending:
            self._check_room(tx)
        if tx.nonce in pending:
            replaced.append(pending[tx.nonce])
            self._remove(pending[tx.nonce])
        entry = MempoolEntry(tx, now)
        self._insert(entry)
        if replaced:
            replaced += self._drop_unaffordable(sender, state)
        evicted = self._evict(protect=tx.txid)
        return AddResult(entry, replaced, evicted)

    def _insert(self, entry: MempoolEntry) -> None:
        tx = entry.tx
        self.entries[tx.txid] = entry
        sender = tx.sender_address
        self.by_sender.setdefault(sender, {})[tx.nonce] = tx.txid
        self.spending[sender] = self.spending.get(sender, 0) + tx.amount + tx.fee
        self.by_recipient.setdefault(tx.recipient, set()).add(tx.txid)
        self.bytes += tx.size
        leaf = self._leaf.get(sender)
        # Mostly the sender's next nonce, the new leaf: no max over its whole chain.
        if leaf is None or self.entries[leaf].tx.nonce < tx.nonce:
            self._link(sender, tx.txid)

    def _relink(self, sender: bytes) -> None:
        """After the sender's pending txs changed: note its leaf (a sender's chain is
        short; a max over it is cheaper than keeping an order)."""
        nonces = self.by_sender.get(sender)
        if not nonces:
            self._leaf.pop(sender, None)
            return
        txid = nonces[max(nonces)]
        if self._leaf.get(sender) != txid:
            self._link(sender, txid)

    def _link(self, sender: bytes, txid: bytes) -> None:
        self._leaf[sender] = txid
        entry = self.entries[txid]
        heapq.heappush(self._leaf_heap, (entry.fee_rate, -entry.added, txid))
        if len(self._leaf_heap) > 2 * len(self._leaf) + 64:  # mostly stale: rebuild
            self._leaf_heap = [(self.entries[t].fee_rate, -self.entries[t].added, t)
                               for t in self._leaf.values()]
            heapq.heapify(self._leaf_heap)

    def _is_leaf(self, txid: bytes) -> bool:
        entry = self.entries.get(txid)
        return entry is not None and self._leaf.get(entry.tx.sender_address) == txid

    def _cheapest_leaf(self, exclude: bytes | None = None) -> MempoolEntry | None:
        """The leaf with the lowest fee rate (the newest of equals), other than `exclude`."""
        heap = self._leaf_heap
        held: list[tuple[float, float, bytes]] = []
        found: MempoolEntry | None = None
        while heap:
            txid = heap[0][2]
            if not self._is_leaf(txid):
                heapq.heappop(heap)
            elif txid == exclude:
                held.append(heapq.heappop(heap))
            else:
                found = self.entries[txid]
                break
        for item in held:
            heapq.heappush(heap, item)
        return found

    def _remove(self, txid: bytes) -> Transaction | None:
        entry = self.entries.pop(txid, None)
        if entry is None:
            return None
        tx = entry.tx
        sender = tx.sender_address
        nonces = self.by_sender.get(sender)
        if nonces is not None:
            nonces.pop(tx.nonce, None)
            if not nonces:
                del self.by_sender[sender]
        left = self.spending.pop(sender, 0) - tx.amount - tx.fee
        if sender in self.by_sender:
            self.spending[sender] = left
        paid = self.by_recipient.get(tx.recipient)
        if paid is not None:
            paid.discard(txid)
            if not paid:
                del self.by_recipient[tx.recipient]
        self.bytes -= tx.size
        if self._leaf.get(sender) == txid:  # below the last nonce, the leaf stays
            self._relink(sender)
        return tx

    def _drop_unaffordable(self, sender: bytes, state: AccountReader) -> list[bytes]:
        """Keep the longest run of the sender's txs that follows on from the state."""
        balance, nonce = state.account(sender)
        pending = self.by_sender.get(sender)
        if not pending:
            return []
        # Walked by nonce from the state's, with no copy or sort: mostly every one follows.
        kept = 0
        while (txid := pending.get(nonce)) is not None:
            tx = self.entries[txid].tx
            if tx.amount + tx.fee > balance:
                break
            balance -= tx.amount + tx.fee
            nonce += 1
            kept += 1
        if kept == len(pending):
            return []
        dropped = [pending[n] for n in sorted(pending) if not (nonce - kept <= n < nonce)]
        for txid in dropped:
            self._remove(txid)
        return dropped

    def _fits(self, count: int, size: int) -> bool:
        return count <= self.policy.mempool_max_count and size <= self.policy.mempool_max_bytes

    def _check_room(self, tx: Transaction) -> None:
        """Refuse before changing anything when the pool is full of better-paying txs."""
        if self._fits(len(self.entries) + 1, self.bytes + tx.size):
            return
        cheapest = self._cheapest_leaf()
        if cheapest is None or cheapest.fee_rate >= tx.fee / tx.size:
            floor = cheapest.fee_rate if cheapest is not None else 0.0
            raise ValidationError("mempool is full and the fee rate is too low", Code.MEMPOOL_FULL,
                                  field="fee rate", value=f"{tx.fee / tx.size:.2f} units/B",
                                  expected=f"above {floor:.2f} units/B")

    def _evict(self, protect: bytes) -> list[bytes]:
        evicted: list[bytes] = []
        while not self._fits(len(self.entries), self.bytes):
            victim = self._cheapest_leaf(exclude=protect)
            if victim is None:
                break
            self._remove(victim.tx.txid)
            evicted.append(victim.tx.txid)
        return evicted

    def remove(self, txids: list[bytes]) -> None:
        for txid in txids:
            self._remove(txid)

    def revalidate(self, state: AccountReader,
                   accounts: Iterable[bytes] | None = None) -> list[bytes]:
        """After a new tip or reorg: drop what the state no longer allows; return dropped
        ids. Only the pending txs of `accounts`, those whose state changed, if given."""
        dropped: list[bytes] = []
        senders = (list(self.by_sender) if accounts is None
                   else sorted(self.by_sender.keys() & set(accounts)))
        for sender in senders:
            _, nonce = state.account(sender)
            pending = self.by_sender.get(sender, {})
            used = [pending[n] for n in sorted(n for n in pending if n < nonce)]
            for txid in used:
                self._remove(txid)
            dropped += used
            dropped += self._drop_unaffordable(sender, state)
        return dropped

    def template(self, max_bytes: int) -> list[Transaction]:
        """Highest fee rate first, each sender's txs in nonce order, within max_bytes."""
        queues = {s: sorted(n.items()) for s, n in self.by_sender.items()}
        heap: list[tuple[float, float, bytes, int]] = []
        for sender, items in queues.items():
            e = self.entries[items[0][1]]
            heapq.heappush(heap, (-e.fee_rate, e.added, sender, 0))
        chosen: list[Transaction] = []
        used = 0
        while heap:
            _, _, sender, i = heapq.heappop(heap)
            tx = self.entries[queues[sender][i][1]].tx
            if used + tx.size > max_bytes:
                continue  # this sender's later txs depend on this one: skip the sender
            chosen.append(tx)
            used += tx.size
            if i + 1 < len(queues[sender]):
                e = self.entries[queues[sender][i + 1][1]]
                heapq.heappush(heap, (-e.fee_rate, e.added, sender, i + 1))
        return chosen

    def sorted_entries(self) -> list[MempoolEntry]:
        return sorted(self.entries.values(), key=lambda e: e.added)

    def page(self, limit: int) -> MempoolPage:
        """The `limit` oldest entries, oldest first, with the count and fees of all: a
        screen of a 50,000-entry pool needs neither all of them nor all of them sorted."""
        oldest = heapq.nsmallest(limit, self.entries.values(), key=lambda e: e.added)
        fees = sum(e.tx.fee for e in self.entries.values())
        return MempoolPage(oldest, len(self.entries), fees)

    def entries_of(self, address: bytes) -> list[MempoolEntry]:
        """The pending transactions sending from or paying `address`, oldest first:
        found through the indexes, so a wallet's view costs its own, not the pool's."""
        txids = set(self.by_sender.get(address, {}).values())
        txids.update(self.by_recipient.get(address, ()))
        return sorted((self.entries[t] for t in txids), key=lambda e: e.added)

    def median_fee_rate(self) -> float | None:
        """The median (the upper of two middles) fee per byte pending, None when empty.

        Over a pool of more than MEDIAN_SAMPLE, the median of an even spread of that
        many entries: the fee suggestion is asked on every wallet refresh, and sorting
        50,000 rates took the writer about 29 ms each time."""
        if not self.entries:
            return None
        step = len(self.entries) // MEDIAN_SAMPLE + 1
        rates = sorted(e.fee_rate for e in islice(self.entries.values(), 0, None, step))
        return rates[len(rates) // 2]
