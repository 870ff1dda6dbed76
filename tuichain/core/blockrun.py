"""A run of blocks connected on top of the tip in one go, as a sync delivers them.

Each block is checked exactly as a one-by-one import checks it (the same
validation functions, against the state the blocks before it in the run left),
but its rows are only collected; the run is written with one statement a table
(`Store.connect_run`). A block that fails a check ends the run before it and
writes nothing: the caller imports it the ordinary way, which records why.
"""

from __future__ import annotations

from collections.abc import Iterable

from .block import Block
from .params import NetworkParams
from .store import HAVE_DATA, HeaderEntry, RunRows, Store, encode_undo
from .validation import address_rows, apply_block, block_addresses


class RunState:
    """Accounts as the run so far leaves them, over the store's, each read from the store
    once (a block's, or an admission batch's senders, in one query)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.accounts: dict[bytes, tuple[int, int]] = {}
        # Read from the store (None: no such account). Values the run has since written
        # are in `accounts`, which is looked at first.
        self._read: dict[bytes, tuple[int, int] | None] = {}

    def prefetch(self, addresses: Iterable[bytes]) -> None:
        """Read all of `addresses` not known yet in one query, not two statements each."""
        accounts, read = self.accounts, self._read
        wanted = {a for a in addresses if a not in accounts and a not in read}
        if wanted:
            found = self._store.accounts(wanted)
            for address in wanted:
                self._read[address] = found.get(address)

    def prefetch_block(self, block: Block) -> None:
        self.prefetch(block_addresses(block))

    def account(self, address: bytes) -> tuple[int, int]:
        found = self.accounts.get(address)
        if found is not None:
            return found
        read = self._read
        if address not in read:  # prefetched as a rule: no set of one to build for it
            self.prefetch((address,))
        return read[address] or (0, 0)

    def exists(self, address: bytes) -> bool:
        # Connecting never deletes an account: one the run wrote exists.
        if address in self.accounts:
            return True
        read = self._read
        if address not in read:
            self.prefetch((address,))
        return read[address] is not None


class BlockRun:
    """The rows of blocks joining the chain one after another above `parent`."""

    def __init__(self, store: Store, parent: HeaderEntry) -> None:
        self.state = RunState(store)
        self.tip = parent
        self.rows = RunRows([], set(), [], [], [], [], self.state.accounts, [])
        self.blocks: list[Block] = []

    def __len__(self) -> int:
        return len(self.blocks)

    def add(self, block: Block, entry: HeaderEntry, params: NetworkParams,
            stored: bool = False) -> None:
        """Append `block` (its header `entry`, a child of the run's tip; `stored` if the
        store has that header already) after running its payments against the run's
        state; raise ValidationError, adding nothing, if one breaks a rule."""
        assert entry.prev == self.tip.hash
        assert entry.status == HAVE_DATA
        self.state.prefetch_block(block)
        delta = apply_block(block, entry.height, params, self.state, self.state.exists)
        rows = self.rows
        h = entry.hash
        rows.headers.append(entry)
        if stored:
            rows.stored.add(h)
        rows.bodies.append((h, block.encoded))
        rows.undo.append((h, encode_undo(delta.old)))
        txids = block.txids
        rows.txrows.extend((txid, h, pos) for pos, txid in enumerate(txids))
        height = entry.height
        rows.history.extend([(addr, height, pos, txid) for addr, pos, txid in address_rows(block)])
        rows.confirmed.extend(txids[1:])
        self.state.accounts.update(delta.new)
        self.blocks.append(block)
        self.tip = entry
