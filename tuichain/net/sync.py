"""Gossip and sync: announcements, requests in flight, headers-first download.

Every object the ledger accepts is announced (`inv`) once to each peer not
known to have it. A node asks (`getdata`) only for what it lacks and what is
not already requested from another peer, so each body crosses each link at
most once; a request that times out or whose peer leaves is asked elsewhere.
Blocks are found through headers: an unknown block hash leads to
`getheaders`, accepted headers (proof of work checked by the ledger) lead to
body requests in a window per peer, lowest height first. Each peer is asked
first for the bodies on the way to its own best announced header, so a peer
that withholds its chain's bodies holds up only its own window; once it sits on
an announced block past the stall timeout it is dropped and the block asked
elsewhere. A block pushed without a request is only kept if it could become
the tip (the ledger's rule).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.block import Block
from ..core.chainstate import ImportResult
from ..core.errors import DecodeError, ValidationError
from ..core.events import NewTip, TxAccepted
from ..core.hashing import sha256d
from ..core.ledger import Ledger
from ..core.rejections import Code
from ..core.rejectlog import RejectLog
from ..core.store import HEADER_ONLY
from ..core.tx import Transaction
from ..core.txlife import TxLife
from .peer import Peer, TokenBucket
from .protocol import (
    MAX_HEADERS,
    Cmd,
    InvType,
    ProtocolError,
    decode_getheaders,
    decode_headers,
    decode_inv,
    encode_getheaders,
    encode_header_bytes,
    encode_headers,
    encode_inv,
    frame,
)


class PeerSet(Protocol):
    """What the sync engine needs of the peer manager (which owns the engine)."""

    txlife: TxLife | None
    rejections: RejectLog | None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None: ...

    def peer(self, peer_id: str) -> Peer | None: ...

    def ready_peers(self) -> list[Peer]: ...

    async def misbehave(self, peer: Peer, points: int, reason: str) -> None: ...

    def drop(self, peer: Peer, why: str) -> None: ...

log = logging.getLogger(__name__)

TX_TIMEOUT = 10.0
HEADERS_TIMEOUT = 30.0
# Block bodies in flight per peer: as many as make BLOCK_WINDOW_BYTES at the size of
# the blocks received lately, within these bounds. Small blocks need a deep window to
# keep the writer busy across a round trip; a slow honest link must deliver its window
# of big ones within the stall timeout.
BLOCK_WINDOW = 256
BLOCK_WINDOW_MIN = 16
BLOCK_WINDOW_BYTES = 8_000_000
# A peer's transactions waiting for admission, past which its next messages wait: a
# burst is admitted in batches (one commit each) while its other messages go on.
TX_WINDOW = 256
# Downloaded blocks waiting for import, past which no more are asked for: the
# download may run ahead of the writer by this many blocks and this much memory at
# most (bodies in flight counted at the size of the blocks received lately).
MAX_QUEUED_BLOCKS = 1024
MAX_QUEUED_BYTES = 64_000_000
BIG_PAYLOAD = 64 * 1024  # decode larger blocks off the loop

# Rejections that say nothing bad about the sender: races between mempools and
# tips, and clock skew. Anything else is invalid data and costs score.
HARMLESS_TX = {
    Code.DUPLICATE,
    Code.BAD_NONCE,
    Code.INSUFFICIENT_FUNDS,
    Code.REPLACEMENT_FEE_TOO_LOW,
    Code.MEMPOOL_FULL,
}
HARMLESS_BLOCK = {Code.TIME_TOO_NEW}
# An honest peer's new tip can race our getheaders; only a run of them is suspect.
MAX_UNCONNECTING = 8
TX_PENALTY = 50
BLOCK_PENALTY = 100
INV_FLOOD_PENALTY = 1  # per inv over the item budget: a burst costs little, a flood a ban


@dataclass
class NetStats:
    """Counters the tests and benchmarks read: bodies received must match bodies needed."""

    blocks_received: int = 0
    txs_received: int = 0
    blocks_sent: int = 0
    txs_sent: int = 0
    duplicate_blocks: int = 0
    duplicate_txs: int = 0
    headers_received: int = 0
    messages_received: int = 0
    bytes_received: int = 0
    inv_items_requested: int = 0  # txids asked for after an inv
    invs_rate_limited: int = 0


@dataclass
class Request:
    peer_id: str
    deadline: float
    # The peer announced this block (it claims to have it): sitting on it past the
    # deadline is stalling, and ends the connection.
    announced: bool = False


class SyncEngine:
    def __init__(self, manager: PeerSet, ledger: Ledger,
                 stall_timeout: float | None = None) -> None:
        self.m = manager
        self.ledger = ledger
        # Bitcoin Core's block-stalling timeout (a node policy; tests set a short one).
        self.stall_timeout = (ledger.policy.block_stall_timeout if stall_timeout is None
                              else stall_timeout)
        self.stats = NetStats()
        self.tx_inflight: dict[bytes, Request] = {}
        self.tx_announcers: dict[bytes, list[str]] = {}
        self.block_inflight: dict[bytes, Request] = {}
        self.recent_rejects: OrderedDict[bytes, None] = OrderedDict()
        self.best_header_work = 0
        # Per peer id: the inventory items it may still announce (Policy.inv_items_*).
        self.inv_budgets: dict[str, TokenBucket] = {}
        self._fetching = False
        self._fetch_again = False
        self._fetch_spawned = False  # a round is spawned and has not started yet
        # The size of the blocks received lately, as the window and the queue's bound
        # count them; the largest a block may be until blocks come, so a sync starts
        # with a shallow window and deepens it as small blocks arrive.
        self._block_size = float(ledger.params.max_block_size)
        self._fetch_paused = False  # the import queue was full: fetch again once it drains
        self._tip_to_announce: NewTip | None = None  # the latest, until the loop's next turn
        self._handlers = {
            Cmd.INV: self._on_inv,
            Cmd.GETDATA: self._on_getdata,
            Cmd.NOTFOUND: self._on_notfound,
            Cmd.TX: self._on_tx,
            Cmd.BLOCK: self._on_block,
            Cmd.GETHEADERS: self._on_getheaders,
            Cmd.HEADERS: self._on_headers,
        }

    @property
    def syncing(self) -> bool:
        tip = self.ledger.tip
        return (
            bool(self.block_inflight)
            or self.ledger.blocks_queued > 0
            or self.best_header_work > (tip.chainwork if tip else 0)
            or any(p.headers_requested_at is not None for p in self.m.ready_peers())
        )

    def handles(self, cmd: Cmd) -> bool:
        return cmd in self._handlers

    def solicited(self, peer: Peer, cmd: Cmd, payload: bytes) -> bool:
        """Answers to our own requests do not count against a peer's rate limit."""
        if cmd == Cmd.HEADERS:
            return peer.headers_requested_at is not None
        if cmd == Cmd.NOTFOUND:
            return bool(peer.blocks_inflight) or any(
                r.peer_id == peer.peer_id for r in self.tx_inflight.values()
            )
        if cmd == Cmd.BLOCK and len(payload) >= 80:
            return sha256d(payload[:80]) in peer.blocks_inflight
        if cmd == Cmd.TX:
            req = self.tx_inflight.get(sha256d(payload))
            return req is not None and req.peer_id == peer.peer_id
        return False

    async def handle(self, peer: Peer, cmd: Cmd, payload: bytes) -> None:
        await self._handlers[cmd](peer, payload)

    # ---- the ledger's news, announced to peers ---------------------------------
    def on_event(self, event: object) -> None:
        if isinstance(event, TxAccepted):
            told = 0
            for p in self.m.ready_peers():
                if p.peer_id != event.source:
                    p.announce(InvType.TX, event.txid)
                    told += 1
            if self.m.txlife is not None:
                self.m.txlife.announced(event.txid, told)
        elif isinstance(event, NewTip):
            self.recent_rejects.clear()  # a new tip can make a rejected tx valid
            for p in self.m.ready_peers():
                if p.knows(event.hash):
                    p.claim_best(event.hash, event.height, event.chainwork)  # it sent us this
            # A batch publishes a NewTip for each of its blocks at once: only the last
            # is announced (a peer that cannot place it asks for the headers before).
            # One a block was a flood past the peer's message bucket during a sync.
            if self._tip_to_announce is None:
                asyncio.get_running_loop().call_soon(self._announce_tip)
            self._tip_to_announce = event

    def _announce_tip(self) -> None:
        event, self._tip_to_announce = self._tip_to_announce, None
        if event is None:
            return
        targets = []
        for p in self.m.ready_peers():
            # Not news to a peer with as much work, such as the one a sync downloads from.
            if p.knows(event.hash) or p.chainwork >= event.chainwork:
                continue
            p.learn(event.hash)
            targets.append(p)
        if targets:
            self.m.spawn(self._announce_header(event.hash, targets))

    async def _announce_header(self, block_hash: bytes, peers: list[Peer]) -> None:
        """Announce a new tip by its header: the peer checks its work and asks for the
        body at once, and catching up one block costs the same at any height (no locator)."""
        entry = await self.ledger.get_header(block_hash)
        if entry is None:
            return
        message = encode_headers([entry.header])
        for p in peers:
            if not p.closed:
                p.send(message)

    # ---- peer lifecycle ------------------------------------------------------------
    async def peer_ready(self, peer: Peer) -> None:
        tip = self.ledger.tip
        if tip is None:
            return
        if peer.chainwork > tip.chainwork:
            await self.request_headers(peer)
        elif peer.chainwork < tip.chainwork and tip.chainwork > peer.told_work:
            # Our version message told the tip of when the handshake began: a block
            # found since then was announced before this peer was ready to hear it.
            peer.learn(tip.hash)
            await self._announce_header(tip.hash, [peer])

    def peer_gone(self, peer: Peer) -> None:
        self.inv_budgets.pop(peer.peer_id, None)
        for txid, req in list(self.tx_inflight.items()):
            if req.peer_id == peer.peer_id:
                del self.tx_inflight[txid]
                self._retry_tx(txid)
        for h in peer.blocks_inflight:
            self.block_inflight.pop(h, None)
        if peer.blocks_inflight:
            peer.blocks_inflight.clear()
            self.m.spawn(self.fetch_blocks())

    async def request_headers(self, peer: Peer, after: bytes | None = None) -> None:
        """One getheaders in flight per peer, a full batch's follow-up (`after`) too;
        asks again afterwards if more was wanted meanwhile. Two in flight had each
        answer of 2,000 ask for the next: every race added a walk over the headers."""
        if peer.headers_requested_at is not None:
            peer.headers_again = True
            return
        locator = await self.ledger.locator()
        if after is not None:
            locator = [after, *locator]
        peer.headers_requested_at = time.monotonic()
        peer.send(encode_getheaders(locator))

    def tick(self) -> None:
        """Expire stalled requests and ask elsewhere."""
        now = time.monotonic()
        for txid, req in list(self.tx_inflight.items()):
            if req.deadline < now:
                del self.tx_inflight[txid]
                self._retry_tx(txid)
        stalled = False
        stallers: dict[str, Peer] = {}
        for h, req in list(self.block_inflight.items()):
            if req.deadline < now:
                del self.block_inflight[h]
                peer = self.m.peer(req.peer_id)
                if peer is not None:
                    peer.blocks_inflight.discard(h)
                    peer.known.pop(h, None)  # do not ask it for this block again soon
                    if req.announced:
                        stallers[peer.peer_id] = peer
                stalled = True
        for peer in stallers.values():
            # It announced the block and then withheld it: waiting longer would keep
            # `syncing` on and the window full for good. Dropped, not banned (a slow
            # honest link looks the same), like Bitcoin Core's stalling peers.
            self.m.drop(peer, "stalled block download")
        for p in self.m.ready_peers():
            asked = p.headers_requested_at
            if asked is not None and asked + HEADERS_TIMEOUT < now:
                p.headers_requested_at = None
        if stalled or (not self.block_inflight and self.syncing):
            self.m.spawn(self.fetch_blocks())

    def _retry_tx(self, txid: bytes) -> None:
        announcers = self.tx_announcers.get(txid, [])
        while announcers:
            peer = self.m.peer(announcers.pop(0))
            if peer is not None and peer.ready and not peer.closed:
                self.tx_inflight[txid] = Request(peer.peer_id, time.monotonic() + TX_TIMEOUT)
                peer.send(encode_inv(Cmd.GETDATA, [(InvType.TX, txid)]))
                return
        self.tx_announcers.pop(txid, None)

    # ---- announcements and requests ----------------------------------------------
    async def _within_inv_budget(self, peer: Peer, items: int,
                                 what: str = "announcement flood") -> bool:
        """Take `items` from the peer's budget of inventory lookups (its announcements,
        and what it asked for that we lack); past it, a point of score and False."""
        budget = self.inv_budgets.get(peer.peer_id)
        if budget is None:
            policy = self.ledger.policy
            budget = TokenBucket(policy.inv_items_burst, policy.inv_items_per_second)
            self.inv_budgets[peer.peer_id] = budget
        if budget.take(items):
            return True
        self.stats.invs_rate_limited += 1
        reason = f"{what}: {items} items over this peer's budget, ignored"
        if self.m.rejections is not None:
            label = peer.url or peer.label
            self.m.rejections.record("message", label, None, Code.RATE_LIMITED, reason,
                                     peer=label)
        await self.m.misbehave(peer, INV_FLOOD_PENALTY, reason)
        return False

    async def _on_inv(self, peer: Peer, payload: bytes) -> None:
        want: list[tuple[InvType, bytes]] = []
        unknown_block = False
        items = decode_inv(payload)
        if not await self._within_inv_budget(peer, len(items)):
            return
        txids: list[bytes] = []
        for kind, h in items:
            peer.learn(h)
            if kind == InvType.TX:
                self._seen(peer, h)
                if h not in self.recent_rejects and not self._note_inflight_tx(peer, h):
                    txids.append(h)
                continue
            entry = await self.ledger.get_header(h)
            if entry is None:
                unknown_block = True
                continue
            peer.claim_best(h, entry.height, entry.chainwork)
            if entry.status == HEADER_ONLY and h not in self.block_inflight:
                self._track_block(peer, h, announced=True)
                want.append((kind, h))
        if txids:
            known = await self.ledger.known_txs(txids)
            for h in txids:
                # Asked of another peer meanwhile, or twice in this inv: not again.
                if h in known or self._note_inflight_tx(peer, h):
                    continue
                self.tx_inflight[h] = Request(peer.peer_id, time.monotonic() + TX_TIMEOUT)
                self.stats.inv_items_requested += 1
                want.append((InvType.TX, h))
        if want:
            peer.send(encode_inv(Cmd.GETDATA, want))
        if unknown_block:
            await self.request_headers(peer)

    def _seen(self, peer: Peer, txid: bytes) -> None:
        if self.m.txlife is not None:
            self.m.txlife.seen(txid, peer.peer_id, len(self.m.ready_peers()))

    def _note_inflight_tx(self, peer: Peer, txid: bytes) -> bool:
        req = self.tx_inflight.get(txid)
        if req is None:
            return False
        if req.peer_id != peer.peer_id:
            announcers = self.tx_announcers.setdefault(txid, [])
            # Once per peer: a peer repeating its inv must not grow the list without bound.
            if peer.peer_id not in announcers:
                announcers.append(peer.peer_id)
        return True

    def _track_block(self, peer: Peer, h: bytes, announced: bool) -> None:
        self.block_inflight[h] = Request(peer.peer_id, time.monotonic() + self.stall_timeout,
                                         announced)
        peer.blocks_inflight.add(h)

    async def _on_getdata(self, peer: Peer, payload: bytes) -> None:
        missing: list[tuple[InvType, bytes]] = []
        items = decode_inv(payload)
        blocks = [h for kind, h in items if kind != InvType.TX]
        served = await self.ledger.servable_blocks(blocks)
        for kind, h in items:
            if kind == InvType.TX:
                self._seen(peer, h)
                tx = await self.ledger.mempool_tx(h)
                if tx is None:
                    missing.append((kind, h))
                    continue
                peer.send(frame(Cmd.TX, tx.encoded))
                self.stats.txs_sent += 1
            else:
                found = served.get(h)
                if found is None:
                    missing.append((kind, h))
                    continue
                height, chainwork, data = found
                peer.send(frame(Cmd.BLOCK, data))
                self.stats.blocks_sent += 1
                # It asked for this body along its header chain, so its chain reaches
                # here. A peer catching up from us announces nothing back, and without
                # this its height stayed at its handshake's on the peers screen.
                peer.claim_best(h, height, chainwork)
            peer.learn(h)
        if missing:
            peer.send(encode_inv(Cmd.NOTFOUND, missing))
            # Each was a lookup for nothing. Requests past the message bucket wait
            # rather than being dropped, so this budget is what stops a peer asking
            # for a thousand unknown items a message.
            await self._within_inv_budget(peer, len(missing), "requests for unknown items")

    async def _on_notfound(self, peer: Peer, payload: bytes) -> None:
        blocks = False
        for kind, h in decode_inv(payload):
            if kind == InvType.TX:
                peer.known.pop(h, None)
                req = self.tx_inflight.get(h)
                if req is not None and req.peer_id == peer.peer_id:
                    del self.tx_inflight[h]
                    self._retry_tx(h)
                continue
            peer.mark_lacking(h)
            if h in peer.blocks_inflight:
                peer.blocks_inflight.discard(h)
                self.block_inflight.pop(h, None)
                blocks = True
        if blocks:
            await self.fetch_blocks()

    # ---- bodies -----------------------------------------------------------------
    async def _on_tx(self, peer: Peer, payload: bytes) -> None:
        try:
            tx = Transaction.decode(payload)
        except DecodeError as exc:
            raise ProtocolError(f"malformed transaction: {exc.reason}") from None
        txid = tx.txid
        self.stats.txs_received += 1
        peer.learn(txid)
        if self.m.txlife is not None:
            self.m.txlife.received(txid, peer.peer_id)
        # Not awaited: admission waits for the writer's commit, and a peer's blocks,
        # pings and further transactions must not queue behind each one.
        answer = self.ledger.queue_tx(tx, source=peer.peer_id)
        peer.txs_admitting.add(answer)
        answer.add_done_callback(lambda done: self._tx_admitted(peer, txid, done))
        if len(peer.txs_admitting) >= TX_WINDOW:
            # One Event, not asyncio.wait on the window's 256 futures each time it fills.
            peer.tx_room.clear()
            await peer.tx_room.wait()

    def _tx_admitted(self, peer: Peer, txid: bytes,
                     done: asyncio.Future[Transaction]) -> None:
        peer.txs_admitting.discard(done)
        if len(peer.txs_admitting) < TX_WINDOW:
            peer.tx_room.set()
        req = self.tx_inflight.get(txid)
        if req is not None and req.peer_id == peer.peer_id:
            del self.tx_inflight[txid]
        self.tx_announcers.pop(txid, None)
        exc = None if done.cancelled() else done.exception()
        # A storage error is the ledger's to report; the tx can be relayed again later.
        if isinstance(exc, ValidationError):
            if exc.code == Code.DUPLICATE:
                self.stats.duplicate_txs += 1
            if exc.code not in HARMLESS_TX:
                self._remember_reject(txid)
                if not peer.closed:
                    self.m.spawn(self.m.misbehave(peer, TX_PENALTY,
                                                  f"invalid transaction: {exc.reason}"))

    def _remember_reject(self, txid: bytes) -> None:
        self.recent_rejects[txid] = None
        if len(self.recent_rejects) > 10_000:
            self.recent_rejects.popitem(last=False)

    async def _on_block(self, peer: Peer, payload: bytes) -> None:
        try:
            if len(payload) > BIG_PAYLOAD:
                block = await asyncio.to_thread(Block.decode, payload)
            else:
                block = Block.decode(payload)
        except DecodeError as exc:
            raise ProtocolError(f"malformed block: {exc.reason}", 50) from None
        h = block.hash
        self.stats.blocks_received += 1
        peer.learn(h)
        requested = h in peer.blocks_inflight
        if requested:  # the chain's own blocks: a peer cannot shrink the size with junk
            # A bigger block counts at once and smaller ones lower the size slowly: the
            # blocks asked for next are likely as big, and a window asked for at too
            # small a size would take too long to arrive.
            size, seen = len(payload), self._block_size
            self._block_size = size if size > seen else 0.9 * seen + 0.1 * size
        result = self.ledger.queue_block(block, source=peer.peer_id, requested=requested)
        # Received: its slot in the window is free now. The ledger keeps it out of
        # `missing_blocks` while it waits, so the next window downloads while this
        # one imports (in batches, signatures checked ahead on the verify pool).
        req = self.block_inflight.get(h)
        if req is not None and req.peer_id == peer.peer_id:
            del self.block_inflight[h]
        peer.blocks_inflight.discard(h)
        if not requested:
            await self._imported(peer, h, result)
            return
        # No task a block while a sync streams them in: most connect, and need no more.
        result.add_done_callback(lambda done: self._on_imported(peer, h, done))
        if len(peer.blocks_inflight) <= self.window // 2:
            self._fetch_soon()

    def _on_imported(self, peer: Peer, h: bytes,
                     done: asyncio.Future[ImportResult]) -> None:
        if done.cancelled() or done.exception() is not None:
            return  # a storage error, reported by the ledger: the block is missing still
        status = done.result().status
        if status in ("connected", "side-branch"):
            self._claim_if_tip(peer, h)
        else:
            self.m.spawn(self._imported(peer, h, done))
        if (self._fetch_paused and self.ledger.blocks_queued < MAX_QUEUED_BLOCKS // 2
                and self.ledger.blocks_queued_bytes < MAX_QUEUED_BYTES // 2):
            self._fetch_paused = False
            self.m.spawn(self.fetch_blocks())

    def _claim_if_tip(self, peer: Peer, h: bytes) -> None:
        tip = self.ledger.tip
        if tip is not None and tip.hash == h:
            peer.claim_best(h, tip.height, tip.chainwork)

    async def _imported(self, peer: Peer, h: bytes,
                        pending: asyncio.Future[ImportResult]) -> None:
        result = await asyncio.shield(pending)
        if result.status == "duplicate":
            self.stats.duplicate_blocks += 1
        elif result.status == "orphan":
            await self.request_headers(peer)  # the ledger keeps it; fill the gap
        elif result.status == "invalid" and result.error is not None:
            if result.error.code not in HARMLESS_BLOCK:
                await self.m.misbehave(peer, BLOCK_PENALTY, f"invalid block: {result.error.reason}")
                return
        else:
            self._claim_if_tip(peer, h)
        if len(peer.blocks_inflight) <= self.window // 2:
            await self.fetch_blocks()

    @property
    def window(self) -> int:
        """Block bodies to keep in flight per peer."""
        return max(BLOCK_WINDOW_MIN, min(BLOCK_WINDOW, int(BLOCK_WINDOW_BYTES / self._block_size)))

    def _fetch_soon(self) -> None:
        """A fetch round without waiting for it: the read loop goes on to the next
        message while the round asks the writer what is missing (behind the batch it
        imports). Rounds asked for meanwhile fold into one."""
        if self._fetching:
            self._fetch_again = True
        elif not self._fetch_spawned:
            self._fetch_spawned = True
            self.m.spawn(self._spawned_fetch())

    async def _spawned_fetch(self) -> None:
        self._fetch_spawned = False
        await self.fetch_blocks()

    async def fetch_blocks(self) -> None:
        """Ask peers for the bodies on the way to the most-work header, a window each."""
        if self._fetching:
            self._fetch_again = True
            return
        self._fetching = True
        try:
            while True:
                self._fetch_again = False
                await self._fetch_round()
                if not self._fetch_again:
                    break
        finally:
            self._fetching = False

    async def _fetch_round(self) -> None:
        tip = self.ledger.tip
        tip_work = tip.chainwork if tip else 0
        peers = [p for p in self.m.ready_peers() if not p.closed]
        requests: dict[str, list[tuple[InvType, bytes]]] = {}
        window = self.window
        # Blocks waiting for import and blocks asked for share one bound, whichever
        # path fetches (a block arriving, a batch imported, the stall tick).
        budget = MAX_QUEUED_BLOCKS - self.ledger.blocks_queued - len(self.block_inflight)
        fits = int((MAX_QUEUED_BYTES - self.ledger.blocks_queued_bytes) / self._block_size)
        if fits < 1 and not self.ledger.blocks_queued:
            fits = 1  # one block at a time, not none: nothing queued would resume fetching
        budget = min(budget, fits - len(self.block_inflight))
        if budget <= 0:
            self._fetch_paused = True  # a batch imported resumes fetching
            return

        def ask(p: Peer, h: bytes, announced: bool) -> None:
            nonlocal budget
            self._track_block(p, h, announced)
            requests.setdefault(p.peer_id, []).append((InvType.BLOCK, h))
            budget -= 1

        # First each peer's own best chain (Bitcoin Core's FindNextBlocksToDownload):
        # headers a peer announced and withholds fill only that peer's window.
        for p in peers:
            room = min(window - len(p.blocks_inflight), budget)
            if room <= 0 or p.best_hash is None or p.best_work <= tip_work:
                continue
            path = await self.ledger.missing_blocks(room, p.best_hash,
                                                    frozenset(self.block_inflight))
            if not p.ready or p.closed:
                continue  # gone while the writer answered: its requests went elsewhere
            for h in path:
                if h not in self.block_inflight and not p.lacks(h):
                    ask(p, h, announced=True)
        # Then what is on the way to the most-work header, from anyone who may have it.
        free = min(sum(max(0, window - len(p.blocks_inflight)) for p in peers), budget)
        if free > 0:
            missing = await self.ledger.missing_blocks(free, None,
                                                       frozenset(self.block_inflight))
            # A peer gone meanwhile would hold its requests until the stall timeout.
            peers = [p for p in peers if p.ready and not p.closed]
            for h in missing:
                if budget <= 0:
                    break
                if h in self.block_inflight:
                    continue
                able = [
                    p
                    for p in peers
                    if len(p.blocks_inflight) < window
                    and (p.knows(h) or p.chainwork > tip_work)
                    and not p.lacks(h)
                ]
                if able:
                    best = min(able, key=lambda p: (not p.knows(h), len(p.blocks_inflight)))
                    ask(best, h, announced=best.knows(h))
        if not self.block_inflight:
            # Nothing asked and nothing coming: no connected peer offers what we lack
            # (a staller's headers stay in the index), so we are not syncing.
            self.best_header_work = tip_work
        for peer_id, items in requests.items():
            peer = self.m.peer(peer_id)
            if peer is not None:
                peer.send(encode_inv(Cmd.GETDATA, items))

    # ---- headers ----------------------------------------------------------------
    async def _on_getheaders(self, peer: Peer, payload: bytes) -> None:
        locator, stop = decode_getheaders(payload)
        headers = await self.ledger.header_bytes_after_locator(locator, stop, MAX_HEADERS)
        peer.send(encode_header_bytes(headers))

    async def _on_headers(self, peer: Peer, payload: bytes) -> None:
        headers = decode_headers(payload)
        asked = peer.headers_requested_at
        solicited = asked is not None
        peer.headers_requested_at = None
        self.stats.headers_received += len(headers)
        if headers:
            result = await self.ledger.submit_headers(headers)
            for e in result.accepted:
                self.best_header_work = max(self.best_header_work, e.chainwork)
            if result.error is not None:
                code = result.error.code
                if code == Code.ORPHAN and len(headers) == 1:
                    # An announced tip we cannot place yet: we are behind, so sync. If
                    # a getheaders is in flight this is not its answer: wait for that.
                    peer.unconnecting_headers += 1
                    if peer.unconnecting_headers > MAX_UNCONNECTING:
                        await self.m.misbehave(peer, 20, "headers that do not connect")
                    if solicited:
                        peer.headers_requested_at = asked
                        peer.headers_again = True
                    else:
                        await self.request_headers(peer)
                    return
                if self.m.rejections is not None:
                    err = result.error
                    label = peer.url or peer.label
                    bad = headers[min(len(result.accepted) + result.known, len(headers) - 1)]
                    self.m.rejections.record("header", label, bad.hash_hex, err.code,
                                             err.reason, field=err.field, value=err.value,
                                             expected=err.expected, peer=label)
                if code == Code.ORPHAN:
                    await self.m.misbehave(peer, 10, "headers that do not connect")
                elif code not in HARMLESS_BLOCK and code != Code.LOW_WORK_HEADERS:
                    # Low-work headers are not stored, so they cost us nothing; an honest
                    # peer on a shorter chain sends them when it announces its tip.
                    await self.m.misbehave(
                        peer, BLOCK_PENALTY, f"invalid header: {result.error.reason}"
                    )
                    return
            else:
                peer.unconnecting_headers = 0
                for header in headers:
                    peer.learn(header.hash)
                last = await self.ledger.get_header(headers[-1].hash)
                if last is not None:
                    if last.chainwork > peer.chainwork:
                        peer.lacking.clear()  # it has moved on: what it lacked it may have now
                    peer.claim_best(last.hash, last.height, last.chainwork)
                if len(headers) == MAX_HEADERS:
                    await self.request_headers(peer, after=headers[-1].hash)
        if peer.headers_again and peer.headers_requested_at is None:
            peer.headers_again = False
            await self.request_headers(peer)
        await self.fetch_blocks()
