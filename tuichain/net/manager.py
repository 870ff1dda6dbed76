"""Peer connections: dialing and accepting, the handshake, scores and bans, outbound upkeep.

The manager owns the connections; gossip and sync live in `sync.SyncEngine`.
Ban keys follow `addrbook` (IP address, or the proven node id on loopback so
that local honest nodes are never banned together). Nothing a peer merely claims
(a node id before its proof, an advertised listening URL) decides a ban, a
duplicate connection or whom we dial.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import WebSocketError, WSCloseCode, WSMsgType, web

from ..core.errors import DecodeError
from ..core.events import PeersChanged, Reorg
from ..core.genesis import genesis_block
from ..core.rejections import Code
from ..core.rejectlog import RejectLog
from ..core.tasks import TaskSet
from ..core.txlife import TxLife
from .addrbook import AddressBook, BanInfo, is_loopback, normalize_url
from .context import NodeContext
from .handshake import Refused, new_challenge, run_handshake
from .links import LinkFilter, LinkState, LinkTally, SplitReport, describe_changes
from .peer import Peer, PeerInfo
from .protocol import (
    PROTOCOL_VERSION,
    Cmd,
    ProtocolError,
    Version,
    decode_addr,
    decode_nonce,
    decode_reject,
    encode_addr,
    encode_nonce,
    max_frame,
    split,
)
from .sync import NetStats, SyncEngine

__all__ = ["BanInfo", "PeerError", "PeerInfo", "PeerManager"]

log = logging.getLogger(__name__)
# An addr message this small is news (a node joining), not a bulk answer to getaddr.
ADDR_RELAY_MAX = 10
ADDR_RELAY_PEERS = 2

MAX_INBOUND = 32
BAN_SECONDS = 86_400.0
BAN_SCORE = 100
# Requests: past the message bucket they wait for it to refill rather than being dropped.
PACED = frozenset({Cmd.GETDATA, Cmd.GETHEADERS})
PING_INTERVAL = 20.0
IDLE_TIMEOUT = 90.0
TICK = 0.5
USER_DROP_HOLD = 300.0  # seconds a peer the user dropped is not redialed by itself
MAX_BACKOFF = 300.0
# Longest a peer's read loop runs on before letting the loop serve others (seconds).
READ_SLICE = 0.004


class PeerError(Exception):
    """A connection that could not be made, with a reason a person can read."""


def dial_error(url: str, exc: BaseException) -> str:
    """'cannot connect to 127.0.0.1:5002 (connection refused)': aiohttp's text names
    its own classes and SSL settings, which tell a user nothing."""
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname or url)
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"{where} answered, but not as a tuichain node (HTTP {exc.status})"
    os_error = getattr(exc, "os_error", None) if isinstance(exc, aiohttp.ClientError) else exc
    if isinstance(os_error, TimeoutError) or isinstance(exc, TimeoutError):
        reason = "timed out"
    elif isinstance(os_error, OSError) and os_error.errno == errno.ECONNREFUSED:
        reason = "connection refused"
    elif isinstance(os_error, OSError) and os_error.strerror:
        reason = os_error.strerror.lower()
    elif isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ServerDisconnectedError):
        reason = "the connection failed"
    else:
        reason = str(exc) or type(exc).__name__
    return f"cannot connect to {where} ({reason})"


class PeerManager:
    def __init__(self, node: NodeContext) -> None:
        self.node = node
        self.params = node.params
        self.book = AddressBook(node.data_dir)
        self.max_inbound = MAX_INBOUND
        self.sync = SyncEngine(self, node.ledger)
        self._peers: dict[str, Peer] = {}
        # Inbound websockets still in their handshake: not peers yet, but open.
        self._accepting: set[Peer] = set()
        self._session: aiohttp.ClientSession | None = None
        self._tasks = TaskSet(log, "network")
        self._dialing: set[str] = set()
        self._backoff: dict[str, tuple[int, float]] = {}
        self._unsubscribe: Any = None
        self._unsubscribe_reorgs: Any = None
        self._running = False
        # The node's explainers, when it keeps them (a transaction's life, refusals).
        self.txlife: TxLife | None = None
        self.rejections: RejectLog | None = None
        # A devnet's partition and delays (net/links.py), and every link's counters.
        self.link_filter = LinkFilter()
        self._link_tally: dict[str, LinkTally] = {}
        self._link_urls: dict[str, str] = {}
        # Set by a heal, cleared by the next split: reorgs meanwhile are the split's end.
        self._healed = False
        self.split_reports: list[SplitReport] = []

    # ---- lifetime ------------------------------------------------------------
    async def load(self) -> None:
        """Read the address book and its bans: before the node listens, so no inbound
        peer and no REST answer meets a node that has not read them yet."""
        await asyncio.to_thread(self.book.load)

    async def start(self) -> None:
        # The one client session for outbound websockets; stop() closes it.
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, connect=10)
        )
        self._unsubscribe = self.node.events.subscribe(self.sync.on_event)
        self._unsubscribe_reorgs = self.node.events.subscribe(self._on_reorg)
        self._running = True
        self.spawn(self._upkeep())

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe_reorgs()
        for task in list(self._tasks):
            task.cancel()
        await self.close_connections()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._peers.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.book.dirty:
            try:
                await asyncio.to_thread(self.book.write, *self.book.snapshot())
            except OSError as exc:  # the node's own shutdown (ledger, server) must go on
                log.error("cannot save the address book: %s", exc)

    async def close_connections(self) -> None:
        """Close every websocket, peers' and those still in their handshake. The server
        calls this on shutdown too, since it waits for open /p2p handlers to end."""
        open_peers = [*self._peers.values(), *self._accepting]
        await asyncio.gather(*[p.close() for p in open_peers], return_exceptions=True)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        if not self._running:
            coro.close()
            return
        self._tasks.spawn(coro, getattr(coro, "__qualname__", "task"))

    # ---- queries -------------------------------------------------------------
    @property
    def stats(self) -> NetStats:
        return self.sync.stats

    @property
    def syncing(self) -> bool:
        return self.sync.syncing

    def peer(self, peer_id: str) -> Peer | None:
        return self._peers.get(peer_id)

    def ready_peers(self) -> list[Peer]:
        return [p for p in self._peers.values() if p.ready]

    def peer_infos(self) -> list[PeerInfo]:
        return [p.info() for p in self.ready_peers()]

    def ban_list(self) -> list[BanInfo]:
        return self.book.ban_list()

    # ---- the devnet's link filter (net/links.py) ---------------------------------------
    async def set_link_filter(self, new: LinkFilter) -> None:
        """Cut, slow down or heal links now: cut peers are dropped at once, a healed
        link is dialled again without waiting for the upkeep's backoff."""
        healed = [u for k, u in self.link_filter.blocked.items() if u and not new.cuts(k)]
        if new.partitioned:
            self._healed = False
        elif self.link_filter.partitioned:
            self._healed = True
        self.link_filter = new
        cut = []
        for p in list(self._peers.values()):
            if new.cuts(p.node_id):
                p.cut = True  # its writer sends nothing more, not even what is queued
                cut.append(self._drop(p, "cut off by the devnet's partition"))
            else:
                p.delay = new.delay(p.node_id)
        # Closed before the answer: once every node answered, nothing is in flight.
        await asyncio.gather(*cut, return_exceptions=True)
        for url in healed:
            self._backoff.pop(url, None)
        if healed:
            self._dial_more(time.monotonic())
        log.info("link filter: %d node(s) cut off, %d delayed link(s)",
                 len(new.blocked), len(new.delays))
        self._changed("partitioned" if new.partitioned else "links healed")

    def link_states(self) -> list[LinkState]:
        """Every link this node has had or is told about, with its counters each way."""
        live: dict[str, Peer] = {p.node_id: p for p in self.ready_peers() if p.node_id}
        ids = set(self._link_tally) | set(live) | set(self.link_filter.blocked)
        ids |= set(self.link_filter.delays)
        states = []
        for node_id in sorted(ids):
            tally = self._link_tally.get(node_id, LinkTally())
            peer = live.get(node_id)
            if peer is not None:
                tally = tally.plus(_peer_tally(peer))
            url = (peer.url if peer else None) or self._link_urls.get(node_id)
            states.append(LinkState(
                node_id, url or self.link_filter.blocked.get(node_id), peer is not None,
                self.link_filter.cuts(node_id), self.link_filter.delay(node_id), tally,
            ))
        return states

    def _on_reorg(self, event: object) -> None:
        if isinstance(event, Reorg) and self._healed:
            self.spawn(self._report_split(event))

    async def _report_split(self, event: Reorg) -> None:
        ledger = self.node.ledger
        lost: dict[str, bool] = {}
        won: set[str] = set()
        for h in event.disconnected:
            block = await ledger.get_block(h)
            for tx in block.txs[1:] if block else []:
                lost[tx.txid_hex] = await ledger.mempool_tx(tx.txid) is not None
        for h in event.connected:
            block = await ledger.get_block(h)
            won |= {tx.txid_hex for tx in (block.txs[1:] if block else [])}
        report = SplitReport(event.fork_height, len(event.disconnected), len(event.connected),
                             describe_changes(lost, won))
        self.split_reports = [*self.split_reports[-9:], report]
        log.warning("%s", report.text())
        self._changed(report.text())

    def _retire(self, peer: Peer) -> None:
        """Fold a finished connection's counters into its link's."""
        if peer.node_id:
            tally = self._link_tally.setdefault(peer.node_id, LinkTally())
            tally.add(peer.messages_sent, peer.messages_received, peer.bytes_sent,
                      peer.bytes_received)
            if peer.url:
                self._link_urls[peer.node_id] = peer.url

    def _cut_url(self, url: str) -> bool:
        if self.link_filter.cuts_url(url):
            return True
        entry = self.book.entries.get(url)
        return bool(entry and entry.node_id and self.link_filter.cuts(entry.node_id))

    # ---- bans and misbehaviour -------------------------------------------------
    def ban(self, key: str, seconds: float = BAN_SECONDS, reason: str = "manual") -> None:
        self.book.ban(key, seconds, reason)
        self._save_now()
        for p in list(self._peers.values()):
            if p.ban_key == key:
                # Closed at once, not when the drop task runs: messages it already sent
                # are still buffered and must not score and ban it again and again.
                p.closed = True
                self.spawn(self._drop(p, "banned"))
        log.warning("banned %s for %.0f s: %s", key, seconds, reason)
        self._changed(f"banned {key}: {reason}")

    def unban(self, key: str) -> None:
        if self.book.unban(key):
            self._save_now()
            self._changed(f"unbanned {key}")

    def _save_now(self) -> None:
        """Write the book before the change is visible to anyone (REST, the UI), so a kill
        right after cannot forget it. Bans are rare and the file small: a short blocking
        write beats a window in which a visible ban exists only in memory."""
        try:
            self.book.save()
        except OSError as exc:
            log.error("cannot save the address book (will retry): %s", exc)

    async def misbehave(self, peer: Peer, points: int, reason: str) -> None:
        if points <= 0 or peer.closed:
            return
        peer.score += points
        log.info("%s misbehaved (+%d = %d): %s", peer.label, points, peer.score, reason)
        if peer.score >= BAN_SCORE:
            self.ban(peer.ban_key, BAN_SECONDS, reason)

    # ---- dialing ----------------------------------------------------------------
    async def connect(self, url: str) -> PeerInfo:
        try:
            url = normalize_url(url)
        except ValueError as exc:
            raise PeerError(str(exc)) from None
        if url == normalize_url(self.node.listen_url):
            raise PeerError(f"{url} is this node itself")
        if self._connected_to(url) or url in self._dialing:
            raise PeerError(f"already connected to {url}")
        ban = self.book.url_banned(url)
        if ban is not None:
            raise PeerError(f"{url} is banned: {ban.reason}")
        if self._cut_url(url):
            raise PeerError(f"{url} is on the other side of the devnet's partition")
        if self._session is None or self._session.closed:
            raise PeerError("the network is not running")
        self._dialing.add(url)
        try:
            ws = await self._session.ws_connect(
                url + "/p2p",
                max_msg_size=max_frame(self.params),
                autoping=True,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            )
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            # ValueError: aiohttp's IDNA step raises UnicodeError for some host names.
            self._dialing.discard(url)
            raise PeerError(dial_error(url, exc)) from None
        peername = ws.get_extra_info("peername")
        peer = Peer(ws, "out", peername[0] if peername else None, url)
        try:
            await self._handshake(peer)
        except Refused as exc:
            self._retire(peer)
            raise PeerError(f"{url} refused the connection: {exc.reason}") from None
        finally:
            self._dialing.discard(url)
        self.book.add(url, "connected")
        self.book.prove(url, peer.node_id)
        self._register(peer)
        self.spawn(self._serve(peer))
        return peer.info()

    async def disconnect(self, peer_id: str) -> None:
        """The user's drop: not undone by the upkeep's redial of a pinned peer a moment
        later; adding the peer again (connect) dials it at once."""
        peer = self._peers.get(peer_id)
        if peer is not None:
            if peer.url:
                self._backoff[peer.url] = (0, time.monotonic() + USER_DROP_HOLD)
            await self._drop(peer, "disconnected by user")

    async def sync_now(self) -> int:
        """'Resolve conflicts': ask every peer for headers beyond our locator now."""
        peers = self.ready_peers()
        for p in peers:
            p.headers_requested_at = None
            await self.sync.request_headers(p)
        return len(peers)

    # ---- the /p2p websocket -------------------------------------------------------
    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        ip = request.remote
        if ip and not is_loopback(ip) and self.book.banned(ip) is not None:
            raise web.HTTPForbidden(reason="banned")
        ws = web.WebSocketResponse(
            max_msg_size=max_frame(self.params), compress=False, autoping=True
        )
        peer = Peer(ws, "in", ip, None)
        # Count and reserve the slot before the first await: handshakes in progress hold
        # one, or a burst of them all pass the check before any registers.
        inbound = len(self._accepting)
        inbound += sum(1 for p in self._peers.values() if p.direction == "in")
        full = inbound >= self.max_inbound
        if not full:
            self._accepting.add(peer)
        try:
            await ws.prepare(request)
            if not self._running:
                raise Refused(Code.SHUTTING_DOWN, "the node is shutting down")
            if full:
                raise Refused(Code.TOO_MANY, "too many inbound connections")
            await self._handshake(peer)
        except (Refused, PeerError) as exc:
            log.info("refused inbound %s: %s", ip, exc)
            if isinstance(exc, Refused):
                self._note_refusal(peer, "peer", exc.reason, exc.code)
            self._retire(peer)
            await peer.close()
            return ws
        finally:
            self._accepting.discard(peer)
        self._register(peer)
        await self._serve(peer)
        return ws

    # ---- handshake (net/handshake.py) ----------------------------------------------
    def _version(self) -> Version:
        tip = self.node.ledger.tip
        assert tip is not None
        identity = self.node.identity
        return Version(
            self.params.name,
            self.params.network_id,
            genesis_block(self.params).hash,
            PROTOCOL_VERSION,
            identity.node_id,
            self.node.listen_url,
            tip.height,
            tip.chainwork,
            identity.public_key,
            new_challenge(),
        )

    def _check_version(self, peer: Peer, v: Version) -> None:
        """What can be refused on the version alone, before any proof."""
        if v.network_id != self.params.network_id:
            raise Refused(
                Code.WRONG_NETWORK,
                f"peer is on network {v.network!r}, this node on {self.params.name!r}",
            )
        if v.genesis != genesis_block(self.params).hash:
            raise Refused(Code.WRONG_GENESIS, "peer has a different genesis block")
        if v.protocol != PROTOCOL_VERSION:
            raise Refused(
                Code.WRONG_PROTOCOL,
                f"peer speaks protocol {v.protocol}, this node {PROTOCOL_VERSION}",
            )
        if v.node_id == self.node.identity.node_id:
            raise Refused(Code.SELF_CONNECTION, "that is this node itself")

    def _check_proven(self, peer: Peer) -> None:
        """What needs to know who the peer is: `peer.node_id` is proven by now."""
        ban = self.book.banned(peer.ban_key)
        if ban is not None:
            raise Refused(Code.BANNED, f"banned: {ban.reason}")
        if self.link_filter.cuts(peer.node_id):
            raise Refused(Code.LINK_CUT, "on the other side of the devnet's partition")
        existing = self._peer_of_node(peer.node_id)
        if existing is not None and not self._wins(peer.direction, peer.node_id, existing):
            raise Refused(Code.DUPLICATE, "already connected to that node")

    async def _handshake(self, peer: Peer) -> None:
        ours = self._version()
        peer.told_height, peer.told_work = ours.height, ours.chainwork
        await run_handshake(
            peer,
            self.params,
            self.node.identity,
            ours,
            self._check_version,
            self._check_proven,
        )
        existing = self._peer_of_node(peer.node_id)
        if existing is None:
            return
        if self._wins(peer.direction, peer.node_id, existing):
            log.info("%s: keeping the other connection to the same node", existing.label)
            await existing.close()
            return
        await peer.close()
        raise Refused(Code.DUPLICATE, "already connected to that node")

    def _peer_of_node(self, node_id: str) -> Peer | None:
        return next((p for p in self._peers.values() if p.node_id == node_id), None)

    def _connected_to(self, url: str) -> bool:
        """A connection we dialed to `url`, or to the node proven to listen there. An
        inbound peer's advertised URL does not count: it would let anyone who claims an
        honest node's URL keep us from dialing that node."""
        if any(p.direction == "out" and p.url == url for p in self._peers.values()):
            return True
        entry = self.book.entries.get(url)
        return bool(entry and entry.node_id and self._peer_of_node(entry.node_id))

    def _wins(self, direction: str, remote_id: str, existing: Peer) -> bool:
        """Two nodes that dial each other at once must keep the same one connection:
        both keep the one opened by the node with the smaller id."""

        def dialer(d: str, remote: str) -> str:
            return self.node.identity.node_id if d == "out" else remote

        return dialer(direction, remote_id) < dialer(existing.direction, existing.node_id)

    # ---- a connected peer -----------------------------------------------------------
    def _register(self, peer: Peer) -> None:
        peer.ready = True
        peer.delay = self.link_filter.delay(peer.node_id)
        peer.start()
        self._peers[peer.peer_id] = peer
        if peer.url and self.book.add(peer.url, "peer"):
            self._relay_addrs([peer.url], peer)
        log.info(
            "connected %s (%s, node %s, height %d)",
            peer.label,
            peer.direction,
            peer.node_id,
            peer.height,
        )
        self._changed(f"connected {peer.url or peer.ip}")
        peer.send(encode_addr(self.book.sample(100)))
        self._ping(peer)

    async def _serve(self, peer: Peer) -> None:
        try:
            await self.sync.peer_ready(peer)
            await self._read_loop(peer)
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            log.info("%s: connection lost: %s", peer.label, exc)
        finally:
            await self._drop(peer, "connection closed")

    async def _read_loop(self, peer: Peer) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        async for msg in peer.ws:
            if msg.type == WSMsgType.BINARY:
                peer.count_received(len(msg.data))
                self.stats.messages_received += 1
                self.stats.bytes_received += len(msg.data)
                await self._on_message(peer, msg.data)
                # Buffered frames are read without a pause: a window of blocks would
                # hold the loop (the screen, other peers) for all their decoding.
                if loop.time() - began > READ_SLICE:
                    await asyncio.sleep(0)
                    began = loop.time()
            elif msg.type == WSMsgType.TEXT:
                await self.misbehave(peer, 20, "text frame on a binary protocol")
            elif msg.type == WSMsgType.ERROR:
                if isinstance(msg.data, WebSocketError):
                    big = msg.data.code == WSCloseCode.MESSAGE_TOO_BIG
                    await self.misbehave(
                        peer, BAN_SCORE if big else 50, f"websocket protocol error: {msg.data}"
                    )
                break
            if peer.closed:
                break

    async def _on_message(self, peer: Peer, data: bytes) -> None:
        try:
            cmd, payload = split(data, self.params)
            if not self.sync.solicited(peer, cmd, payload) and not peer.bucket.take():
                if cmd not in PACED:
                    await self.misbehave(peer, 1, "message flood")
                    return
                # A request dropped leaves its asker waiting for good (a sync stalled
                # until the block timeout): it waits its turn, the peer's later
                # messages with it, and a peer asking too fast is slowed, not lost.
                await asyncio.sleep(peer.bucket.borrow())
            if self.sync.handles(cmd):
                await self.sync.handle(peer, cmd, payload)
            else:
                await self._on_control(peer, cmd, payload)
        except ProtocolError as exc:
            self._note_refusal(peer, "message", exc.reason)
            await self.misbehave(peer, exc.penalty, exc.reason)
        except (DecodeError, ValueError) as exc:
            self._note_refusal(peer, "message", f"malformed message: {exc}")
            await self.misbehave(peer, 20, f"malformed message: {exc}")

    def _note_refusal(self, peer: Peer, kind: str, reason: str, code: str = Code.MALFORMED,
                      object_id: str | None = None) -> None:
        if self.rejections is not None:
            label = peer.url or peer.label
            self.rejections.record(kind, label, object_id, code, reason, peer=label)

    async def _on_control(self, peer: Peer, cmd: Cmd, payload: bytes) -> None:
        if cmd == Cmd.PING:
            peer.send(encode_nonce(Cmd.PONG, decode_nonce(payload)))
        elif cmd == Cmd.PONG:
            if decode_nonce(payload) == peer.ping_nonce:
                peer.latency_ms = (time.monotonic() - peer.ping_sent) * 1000
                peer.ping_nonce = None
        elif cmd == Cmd.ADDR:
            own = normalize_url(self.node.listen_url)
            urls = decode_addr(payload)
            fresh = [u for u in urls if u != own and self.book.add(u, f"addr from {peer.peer_id}")]
            if fresh and len(urls) <= ADDR_RELAY_MAX:
                self._relay_addrs(fresh, peer)
        elif cmd == Cmd.GETADDR:
            peer.send(encode_addr(self.book.sample(100)))
        elif cmd == Cmd.REJECT:
            code, reason = decode_reject(payload)
            log.info("%s rejected something: %s (%s)", peer.label, reason, code)
        else:  # version/verack again after the handshake
            raise ProtocolError(f"unexpected {cmd.name.lower()} after the handshake")

    def _relay_addrs(self, urls: list[str], source: Peer) -> None:
        """Pass newly learned addresses on to a few other peers. Each node relays an
        address only the first time it learns it, so the gossip dies out by itself."""
        others = [p for p in self.ready_peers() if p is not source]
        for p in random.sample(others, min(ADDR_RELAY_PEERS, len(others))):
            p.send(encode_addr(urls))

    def _ping(self, peer: Peer) -> None:
        peer.ping_nonce = random.getrandbits(64)
        peer.ping_sent = time.monotonic()
        peer.send(encode_nonce(Cmd.PING, peer.ping_nonce))

    def drop(self, peer: Peer, why: str) -> None:
        """End a connection from synchronous code (the sync engine's stall check)."""
        self.spawn(self._drop(peer, why))

    async def _drop(self, peer: Peer, why: str) -> None:
        if self._peers.pop(peer.peer_id, None) is None:
            await peer.close()
            return
        peer.ready = False
        await peer.close()
        self._retire(peer)
        self.sync.peer_gone(peer)
        log.info("disconnected %s: %s", peer.label, why)
        self._changed(f"disconnected {peer.url or peer.ip}: {why}")

    def _changed(self, detail: str) -> None:
        self.node.events.publish(PeersChanged(len(self.ready_peers()), detail))

    # ---- upkeep: timeouts, pings, outbound connections, saving ------------------------
    async def _upkeep(self) -> None:
        last_dial = 0.0
        while self._running:
            now = time.monotonic()
            self.sync.tick()
            for p in self.ready_peers():
                if now - p.last_message > IDLE_TIMEOUT:
                    self.spawn(self._drop(p, "idle"))
                elif p.ping_nonce is None and now - p.ping_sent > PING_INTERVAL:
                    self._ping(p)
            if now - last_dial >= 2.0:
                last_dial = now
                self._dial_more(now)
            if self.book.dirty:
                try:
                    await asyncio.to_thread(self.book.write, *self.book.snapshot())
                except OSError as exc:
                    # A full or read-only disk must not end timeouts, pings and dialing.
                    log.error("cannot save the address book: %s", exc)
            await asyncio.sleep(TICK)

    def _dial_more(self, now: float) -> None:
        own = normalize_url(self.node.listen_url)
        pinned = []
        for u in self.node.pinned_peers:
            with contextlib.suppress(ValueError):
                pinned.append(normalize_url(u))
        outbound = sum(1 for p in self._peers.values() if p.direction == "out")
        outbound += len(self._dialing)
        choices = pinned + [u for u in self.book.urls() if u not in pinned]
        for url in choices:
            if url in self._dialing or url == own or self._connected_to(url):
                continue
            if url not in pinned and outbound >= self.node.target_outbound:
                break
            if self._backoff.get(url, (0, 0.0))[1] > now:
                continue
            if self.book.url_banned(url) is not None or self._cut_url(url):
                continue
            outbound += 1
            self._dialing.add(url)
            self.spawn(self._dial(url))

    async def _dial(self, url: str) -> None:
        self._dialing.discard(url)  # connect() re-adds it while dialing
        try:
            await self.connect(url)
            self._backoff.pop(url, None)
        except PeerError as exc:
            failures = self._backoff.get(url, (0, 0.0))[0] + 1
            delay = min(MAX_BACKOFF, 2.0**failures) * random.uniform(0.8, 1.2)
            self._backoff[url] = (failures, time.monotonic() + delay)
            log.info("%s (retry in %.0f s)", exc, delay)


def _peer_tally(peer: Peer) -> LinkTally:
    return LinkTally(peer.messages_sent, peer.messages_received, peer.bytes_sent,
                     peer.bytes_received)
