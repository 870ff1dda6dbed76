"""One peer connection: its websocket, an outgoing queue, counters, score and rate limit.

Sends never wait on the peer: frames go into a queue drained by a writer task,
so a slow peer cannot stall gossip to the others; a peer that lets too much
pile up is dropped. Announcements are coalesced: a burst of new objects goes
out as one `inv` rather than one message each.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import ClientWebSocketResponse, web

from ..core.tx import Transaction
from .addrbook import ban_key
from .protocol import MAX_INV, Cmd, InvType, Version, encode_inv

log = logging.getLogger(__name__)

MAX_QUEUED_BYTES = 32 * 1024 * 1024
KNOWN_INVENTORY = 50_000
INV_INTERVAL = 0.01  # seconds between coalesced announcements to one peer
BUCKET_CAPACITY = 500.0  # messages a peer may send in a burst
BUCKET_RATE = 200.0  # messages per second sustained
# Longest a peer's write loop runs on before letting the loop serve others (seconds).
WRITE_SLICE = 0.004

WebSocket = web.WebSocketResponse | ClientWebSocketResponse
_ids = itertools.count(1)


@dataclass(frozen=True)
class PeerInfo:
    peer_id: str
    url: str | None
    direction: str
    node_id: str
    height: int
    chainwork: int
    latency_ms: float | None
    score: int
    connected_since: float
    bytes_sent: int
    bytes_received: int
    messages_sent: int = 0
    messages_received: int = 0


def wire_size(payload_len: int, masked: bool) -> int:
    """Bytes a websocket binary frame of this payload takes on the wire."""
    header = 2 if payload_len < 126 else 4 if payload_len < 65536 else 10
    return payload_len + header + (4 if masked else 0)


class TokenBucket:
    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, n: float = 1.0) -> bool:
        self._refill()
        if self.tokens < n:
            return False
        self.tokens -= n
        return True

    def borrow(self, n: float = 1.0) -> float:
        """Take `n` tokens even if they are not there yet; seconds until they would be."""
        self._refill()
        self.tokens -= n
        return max(0.0, -self.tokens / self.rate)


class Peer:
    def __init__(
        self, ws: WebSocket, direction: str, ip: str | None, dialed_url: str | None
    ) -> None:
        self.peer_id = f"p{next(_ids)}"
        self.ws = ws
        self.direction = direction
        self.ip = ip
        # Inbound: replaced by the listening URL it advertises, which proves nothing.
        self.url = dialed_url
        self.version: Version | None = None
        self.node_id = ""  # set by the handshake once the peer proved its key
        self.height = 0
        self.chainwork = 0
        # The tip our own version message told this peer (a block found after it
        # must be announced once the peer is ready).
        self.told_height = 0
        self.told_work = 0
        # The most-work header it announced to us (known to our index): bodies are
        # fetched from it along the chain to this header.
        self.best_hash: bytes | None = None
        self.best_work = 0
        self.score = 0
        self.latency_ms: float | None = None
        self.connected_since = time.time()
        self.last_message = time.monotonic()
        self.bytes_sent = 0
        self.bytes_received = 0
        self.messages_sent = 0
        self.messages_received = 0
        self.bucket = TokenBucket(BUCKET_CAPACITY, BUCKET_RATE)
        self.known: OrderedDict[bytes, None] = OrderedDict()
        # Blocks it answered notfound for: never chosen for them again until it
        # announces them, or a peer with more work than us is asked in a tight loop.
        self.lacking: OrderedDict[bytes, None] = OrderedDict()
        self.blocks_inflight: set[bytes] = set()
        # Its transactions waiting for admission (see SyncEngine._on_tx).
        self.txs_admitting: set[asyncio.Future[Transaction]] = set()
        # Set while fewer than the sync's window of them wait: the read loop waits on it.
        self.tx_room = asyncio.Event()
        self.tx_room.set()
        self.headers_requested_at: float | None = None
        self.headers_again = False
        # Single headers in a row we could not place; reset by any that connect.
        self.unconnecting_headers = 0
        self.ping_nonce: int | None = None
        self.ping_sent = 0.0
        self.ready = False
        self.closed = False
        # Seconds each outgoing message is held: a devnet's slow link (net/links.py).
        self.delay = 0.0
        self.cut = False  # cut off by a devnet partition: send nothing more
        self._queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        self._queued = 0
        self._pending_inv: list[tuple[InvType, bytes]] = []
        self._inv_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ---- identity ---------------------------------------------------------
    @property
    def ban_key(self) -> str:
        return ban_key(self.ip, self.node_id or None)

    @property
    def label(self) -> str:
        return f"{self.peer_id} {self.url or self.ip or '?'}"

    def info(self) -> PeerInfo:
        return PeerInfo(
            self.peer_id,
            self.url,
            self.direction,
            self.node_id,
            self.height,
            self.chainwork,
            self.latency_ms,
            self.score,
            self.connected_since,
            self.bytes_sent,
            self.bytes_received,
            self.messages_sent,
            self.messages_received,
        )

    def claim_best(self, block_hash: bytes, height: int, chainwork: int) -> None:
        """Note a header it announced (one our index holds), keeping the most-work one."""
        if chainwork > self.best_work:
            self.best_hash, self.best_work = block_hash, chainwork
        if chainwork > self.chainwork:
            self.height, self.chainwork = height, chainwork

    # ---- inventory this peer is known to have ---------------------------------
    def learn(self, h: bytes) -> None:
        self.known[h] = None
        self.known.move_to_end(h)
        if len(self.known) > KNOWN_INVENTORY:
            self.known.popitem(last=False)
        self.lacking.pop(h, None)

    def knows(self, h: bytes) -> bool:
        return h in self.known

    def mark_lacking(self, h: bytes) -> None:
        self.known.pop(h, None)
        self.lacking[h] = None
        self.lacking.move_to_end(h)
        if len(self.lacking) > KNOWN_INVENTORY:
            self.lacking.popitem(last=False)

    def lacks(self, h: bytes) -> bool:
        return h in self.lacking

    # ---- sending ------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._write_loop()),
            asyncio.create_task(self._inv_loop()),
        ]

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        self._queued += len(data)
        if self._queued > MAX_QUEUED_BYTES:
            log.warning("%s is not reading; dropping it", self.label)
            self.closed = True
            asyncio.ensure_future(self.ws.close())
            return
        self._queue.put_nowait((time.monotonic(), data))

    def announce(self, kind: InvType, h: bytes) -> None:
        if self.closed or self.knows(h):
            return
        self.learn(h)
        self._pending_inv.append((kind, h))
        self._inv_event.set()

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        while True:
            if self._queue.empty():
                item = await self._queue.get()
                began = loop.time()
            else:
                # A send that fits the socket's buffer does not suspend: a window of
                # blocks would be written in one step of the loop, a frozen screen.
                if loop.time() - began > WRITE_SLICE:
                    await asyncio.sleep(0)
                    began = loop.time()
                item = self._queue.get_nowait()
            if item is None:
                return
            queued_at, data = item
            self._queued -= len(data)
            # Held from when it was queued, not after the last one: a latency, not a
            # bandwidth limit, and the order stays as it was.
            hold = queued_at + self.delay - time.monotonic()
            if hold > 0:
                await asyncio.sleep(hold)
            if self.cut:
                return
            try:
                await self.ws.send_bytes(data)
            except (ConnectionError, RuntimeError):
                self.closed = True
                return
            self.count_sent(len(data))

    async def _inv_loop(self) -> None:
        while True:
            await self._inv_event.wait()
            self._inv_event.clear()
            items, self._pending_inv = self._pending_inv, []
            for i in range(0, len(items), MAX_INV):
                self.send(encode_inv(Cmd.INV, items[i : i + MAX_INV]))
            await asyncio.sleep(INV_INTERVAL)

    async def send_now(self, data: bytes) -> None:
        """Send at once, not through the queue (the handshake, before the write loop)."""
        await self.ws.send_bytes(data)
        self.count_sent(len(data))

    def count_sent(self, size: int) -> None:
        # The dialing side masks its frames (RFC 6455): four bytes more each.
        self.bytes_sent += wire_size(size, self.direction == "out")
        self.messages_sent += 1

    def count_received(self, size: int) -> None:
        self.bytes_received += wire_size(size, self.direction == "in")
        self.messages_received += 1
        self.last_message = time.monotonic()

    async def close(self) -> None:
        """Flush what is queued (briefly), then close the websocket."""
        self.closed = True
        self._queue.put_nowait(None)
        if self._tasks:
            writer, inv = self._tasks
            inv.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(writer, 1.0)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await inv
        with contextlib.suppress(Exception):
            await self.ws.close()
