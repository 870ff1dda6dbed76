"""Known peer addresses and bans, kept in peers.toml in the data directory.

Ban keys. A misbehaving peer is banned by its IP address, as real nodes do,
EXCEPT when it connects from a loopback address (127.0.0.0/8, ::1). Devnets and
tests run every honest node on 127.0.0.1, so an IP ban there would cut a node
off from all its honest neighbours at once. On loopback the key is the peer's
proven node id, "node:<node id>" (the handshake makes it sign for it). Never the
listening URL it advertises: anyone can claim an honest neighbour's URL. The
price: a hostile local process can come back under a new key; anything local
can do worse anyway.

A URL we dialed and whose node proved its key is remembered with that node id,
so a banned local node is not dialed again and again just to be refused.

Bans are persisted with the addresses so a restart does not forgive a peer.
A ban or unban is written at once (`save`); address gossip is written by the
manager's upkeep in a thread. Every write is atomic (a temporary file, fsync,
then rename) and writes are ordered, so an older snapshot never replaces a
newer one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import random
import re
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

log = logging.getLogger(__name__)

PEERS_FILE = "peers.toml"
MAX_ADDRESSES = 1000
MAX_BANS = 10_000


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# Host names (no empty labels), IPv4 and IPv6 literals only: anything else (control
# characters, lone surrogates from JSON, "a..b") cannot be dialed, and some of it could
# not even be written to the book.
_HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*|[0-9a-f.]*:[0-9a-f:.]*")


def normalize_url(text: str) -> str:
    """A peer's base URL as 'http://host:port', or ValueError saying what is wrong."""
    text = text.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a peer URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("a peer URL starts with http:// or https://")
    host = (parts.hostname or "").lower()
    if not host or len(text) > 200:
        raise ValueError("a peer URL needs a host name")
    if not _HOST.fullmatch(host):
        raise ValueError("a peer URL's host is a name or an IP address")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError("a peer URL is just scheme, host and port")
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}"


def url_host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or ""), (parts.port or 80)


def node_key(node_id: str) -> str:
    return f"node:{node_id}"


def ban_key(ip: str | None, node_id: str | None) -> str:
    """The key a peer is banned under (see the module docstring); `node_id` must be proven."""
    if ip and not is_loopback(ip):
        return ip
    return node_key(node_id) if node_id else f"ip:{ip}"


def url_ban_key(url: str) -> str | None:
    """The ban key of a URL we are about to dial, when it can be known before connecting."""
    host, port = url_host_port(url)
    if is_loopback(host):
        # Peers on loopback are banned by node id (AddressBook.url_banned); a ban under
        # the address itself can only come from the operator, and only stops our dialing.
        return f"{host}:{port}"
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        return None  # a name: checked again with the IP once connected


@dataclass(frozen=True)
class BanInfo:
    key: str
    until: float
    reason: str


@dataclass
class AddrEntry:
    url: str
    last_seen: float
    source: str = ""
    node_id: str = ""  # proven by a handshake we dialed to this URL; "" until then


class AddressBook:
    """Addresses learned from config, addr gossip and connections; bans with expiry."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / PEERS_FILE
        self.entries: dict[str, AddrEntry] = {}
        self.bans: dict[str, BanInfo] = {}
        self.dirty = False
        self._generation = 0  # of the last snapshot taken
        self._written = 0  # of the last snapshot on disk
        self._write_lock = threading.Lock()

    # ---- persistence (blocking: call through asyncio.to_thread) -------------
    def load(self) -> None:
        if not self.path.exists():
            return
        try:
            with self.path.open("rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return
        for row in data.get("addresses", []):
            try:
                url = normalize_url(str(row["url"]))
                node_id = str(row.get("node_id", ""))
                self.entries[url] = AddrEntry(
                    url,
                    float(row.get("last_seen", 0)),
                    str(row.get("source", "")),
                    node_id if node_id.isalnum() else "",
                )
            except (KeyError, TypeError, ValueError):
                continue
        now = time.time()
        for row in data.get("bans", []):
            try:
                ban = BanInfo(str(row["key"]), float(row["until"]), str(row.get("reason", "")))
            except (KeyError, TypeError, ValueError):
                continue
            if ban.until > now:
                self.bans[ban.key] = ban

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        """The book as plain data, numbered, for `write` (cheap: call it on the loop, where
        the book changes, and hand the result to a thread)."""
        self._generation += 1
        self.dirty = False
        data = {
            "addresses": [
                {"url": e.url, "last_seen": e.last_seen, "source": e.source}
                | ({"node_id": e.node_id} if e.node_id else {})
                for e in self.entries.values()
            ],
            "bans": [
                {"key": b.key, "until": b.until, "reason": b.reason} for b in self.bans.values()
            ],
        }
        return self._generation, data

    def write(self, generation: int, data: dict[str, Any]) -> None:
        """Write a snapshot atomically, unless a newer one is already on disk. On OSError
        the book is marked dirty again so the upkeep retries."""
        with self._write_lock:
            if generation <= self._written:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".peers.", suffix=".tmp")
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(tomli_w.dumps(data).encode())
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(tmp, self.path)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                    raise
            except OSError:
                self.dirty = True
                raise
            self._written = generation

    def save(self) -> None:
        """Snapshot and write now (blocking)."""
        self.write(*self.snapshot())

    # ---- addresses -------------------------------------------------------------
    def add(self, url: str, source: str, seen: float | None = None) -> bool:
        """Remember a URL (normalized); True when it was new."""
        try:
            url = normalize_url(url)
        except ValueError:
            return False
        now = time.time() if seen is None else seen
        entry = self.entries.get(url)
        if entry is not None:
            entry.last_seen = max(entry.last_seen, now)
            self.dirty = True
            return False
        if len(self.entries) >= MAX_ADDRESSES:
            oldest = min(self.entries.values(), key=lambda e: e.last_seen)
            del self.entries[oldest.url]
        self.entries[url] = AddrEntry(url, now, source)
        self.dirty = True
        return True

    def prove(self, url: str, node_id: str) -> None:
        """`url` was dialed and the node there proved `node_id`."""
        entry = self.entries.get(url)
        if entry is not None and entry.node_id != node_id:
            entry.node_id = node_id
            self.dirty = True

    def url_banned(self, url: str) -> BanInfo | None:
        """A ban that applies to dialing `url`, as far as it can be known before connecting."""
        entry = self.entries.get(url)
        by_node = self.banned(node_key(entry.node_id)) if entry and entry.node_id else None
        return by_node or self.banned(url_ban_key(url))

    def urls(self) -> list[str]:
        return sorted(self.entries, key=lambda u: -self.entries[u].last_seen)

    def sample(self, n: int) -> list[str]:
        urls = self.urls()
        return urls[:n] if len(urls) <= n else random.sample(urls, n)

    # ---- bans ----------------------------------------------------------------
    def ban(self, key: str, seconds: float, reason: str) -> BanInfo:
        info = BanInfo(key, time.time() + seconds, reason)
        self.bans[key] = info
        if len(self.bans) > MAX_BANS:
            first = min(self.bans.values(), key=lambda b: b.until)
            del self.bans[first.key]
        self.dirty = True
        return info

    def unban(self, key: str) -> bool:
        found = self.bans.pop(key, None) is not None
        self.dirty = self.dirty or found
        return found

    def banned(self, key: str | None) -> BanInfo | None:
        if key is None:
            return None
        info = self.bans.get(key)
        if info is not None and info.until <= time.time():
            del self.bans[key]
            self.dirty = True
            return None
        return info

    def ban_list(self) -> list[BanInfo]:
        now = time.time()
        for key in [k for k, b in self.bans.items() if b.until <= now]:
            del self.bans[key]
            self.dirty = True
        return sorted(self.bans.values(), key=lambda b: b.until)
