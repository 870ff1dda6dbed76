"""The composition root: ledger, mining, wallet, peers and the HTTP server, and their lifetimes.

The TUI and --headless run the same Node; tests start several in one loop.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from . import __version__
from .config import NodeConfig
from .core import wallet as keystore
from .core.amounts import format_amount
from .core.errors import WalletError
from .core.events import BlockRejected, EventBus, TxRejected
from .core.keys import PrivateKey, decode_address, encode_address
from .core.ledger import AccountInfo, Ledger
from .core.mining import MiningController
from .core.payment import check_payment
from .core.rejectlog import RejectLog
from .core.tx import Transaction, make_payment
from .core.txlife import LIFE_FILE, LifeStore, TxLife
from .net.manager import PeerManager
from .server import make_app

log = logging.getLogger("tuichain.node")


@dataclass(frozen=True)
class NodeStatus:
    network: str
    port: int
    height: int
    tip: str
    tip_time: int
    chainwork: int
    peers: int
    mempool: int
    syncing: bool
    hash_rate: float
    mining: bool
    version: str = __version__

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version, "network": self.network, "port": self.port,
            "height": self.height,
            "tip": self.tip, "tip_time": self.tip_time, "chainwork": hex(self.chainwork),
            "peers": self.peers, "mempool": self.mempool, "syncing": self.syncing,
            "hash_rate": self.hash_rate, "mining": self.mining,
        }


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.params = config.network
        self.policy = config.policy
        self.node_id = secrets.token_hex(8)
        self.started_at = time.time()
        self._ledger: Ledger | None = None
        self._mining: MiningController | None = None
        self._net: PeerManager | None = None
        self._runner: web.AppRunner | None = None
        self.wallet: keystore.WalletInfo | None = None
        self._key: PrivateKey | None = None
        self.port = config.port
        # The explainers' recorders: a transaction's life, the last refusals.
        # Their clock: the snapshot tests pin it, as they pin the App's.
        self.clock: Callable[[], float] = time.time
        self.rejections = RejectLog(clock=lambda: self.clock())
        self.txlife: TxLife | None = None
        self._life_store: LifeStore | None = None

    # ---- lifetime ---------------------------------------------------------
    async def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self._ledger = await Ledger.open(self.config.data_dir, self.params, self.policy)
        await self._start_recorders()
        if keystore.wallet_exists(self.config.data_dir):
            try:
                self.wallet = keystore.read_wallet_info(self.config.data_dir)
                if not self.wallet.encrypted:
                    await self.unlock_wallet(None)
            except WalletError as exc:
                log.error("wallet not loaded: %s", exc.reason)
        self._mining = MiningController(self.ledger, self._payout, self.config.miner_workers)
        await self._mining.start()
        self._net = PeerManager(self)
        self._net.txlife, self._net.rejections = self.txlife, self.rejections
        self._runner = web.AppRunner(make_app(self, self._net), access_log=None,
                                     handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        if self.config.port == 0:  # tests ask the OS for a free port
            self.port = int(self._runner.addresses[0][1])
        # After the site is up, so the version message carries the real listening URL;
        # the manager dials config.peers first and keeps them connected.
        await self._net.start()
        log.info("node %s listening on %s (%s, height %d)", self.node_id, self.listen_url,
                 self.params.name, self.ledger.tip.height if self.ledger.tip else 0)
        if self.config.mine:
            if self.wallet is None:
                await self.create_wallet(None)
                log.info("no wallet found: created one at %s", self.wallet_path)
            self.mining.start_continuous()

    async def stop(self) -> None:
        if self._mining is not None:
            await self._mining.close()
        if self._net is not None:
            await self._net.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._ledger is not None:
            await self._ledger.close()
        if self._life_store is not None:
            await asyncio.to_thread(self._life_store.close)
            self._life_store = None
        self._mining = self._net = self._runner = self._ledger = None

    async def _start_recorders(self) -> None:
        # Subscribed before the peer manager, so "accepted" precedes "announced".
        store = LifeStore(self.config.data_dir / LIFE_FILE)
        self._life_store = store
        self.txlife = await asyncio.to_thread(
            TxLife, peer_label=self.peer_label, own=self._is_own, store=store,
            clock=lambda: self.clock())
        self.events.subscribe(self.txlife.on_event)
        self.events.subscribe(self._record_rejection)
        self.ledger.import_hooks.append(self.txlife.on_import)
        self.ledger.admit_hooks.append(self.txlife.on_admit)

    def _is_own(self, sender: bytes, recipient: bytes) -> bool:
        return self.wallet is not None and self.wallet.address_digest in (sender, recipient)

    def peer_label(self, source: str) -> str:
        """A peer id ("p3") as the peer's URL while it is connected; other sources as they are."""
        peer = self._net.peer(source) if self._net is not None else None
        if peer is None:
            return source
        return peer.url or peer.label

    def _record_rejection(self, event: object) -> None:
        if isinstance(event, TxRejected | BlockRejected):
            kind = "transaction" if isinstance(event, TxRejected) else "block"
            object_id = (event.txid if isinstance(event, TxRejected) else event.hash)[::-1].hex()
            source = self.peer_label(event.source or "?")
            is_peer = self._net is not None and self._net.peer(event.source or "") is not None
            self.rejections.record(kind, source, object_id, event.code, event.reason,
                                   field=event.field, value=event.value,
                                   expected=event.expected, peer=source if is_peer else None)

    @property
    def listen_url(self) -> str:
        if self.config.advertise_url:
            return self.config.advertise_url
        return f"http://{self.config.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    @property
    def pinned_peers(self) -> Sequence[str]:
        return self.config.peers

    @property
    def target_outbound(self) -> int:
        return self.config.target_outbound

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            raise RuntimeError("node is not running")
        return self._ledger

    @property
    def mining(self) -> MiningController:
        if self._mining is None:
            raise RuntimeError("node is not running")
        return self._mining

    @property
    def net(self) -> PeerManager:
        if self._net is None:
            raise RuntimeError("node is not running")
        return self._net

    @property
    def events(self) -> EventBus:
        return self.ledger.events

    def status(self) -> NodeStatus:
        tip = self.ledger.tip
        assert tip is not None
        progress = self.mining.progress if self._mining else None
        running = self._mining is not None and self.mining.running
        return NodeStatus(
            network=self.params.name, port=self.port, height=tip.height,
            tip=tip.hash[::-1].hex(), tip_time=tip.time, chainwork=tip.chainwork,
            peers=len(self.net.peer_infos()) if self._net else 0,
            mempool=self.ledger.mempool_size, syncing=self.net.syncing if self._net else False,
            hash_rate=progress.rate if progress and running else 0.0, mining=running,
        )

    # ---- wallet (local only: nothing on the network reaches these) -------------
    @property
    def wallet_path(self) -> str:
        return str(keystore.wallet_path(self.config.data_dir))

    @property
    def address(self) -> str | None:
        return None if self.wallet is None else self.wallet.address(self.params.hrp)

    @property
    def wallet_locked(self) -> bool:
        return self.wallet is not None and self._key is None

    def _payout(self) -> bytes | None:
        return None if self.wallet is None else self.wallet.address_digest

    async def create_wallet(self, passphrase: str | None) -> keystore.WalletInfo:
        info, key = await asyncio.to_thread(keystore.create_wallet, self.config.data_dir,
                                            passphrase)
        self.wallet, self._key = info, key
        return info

    async def unlock_wallet(self, passphrase: str | None) -> keystore.WalletInfo:
        info, key = await asyncio.to_thread(keystore.load_wallet, self.config.data_dir,
                                            passphrase)
        self.wallet, self._key = info, key
        return info

    def parse_address(self, text: str) -> bytes:
        return decode_address(self.params.hrp, text)

    def format_address(self, digest: bytes) -> str:
        return encode_address(self.params.hrp, digest)

    async def wallet_account(self) -> AccountInfo | None:
        if self.wallet is None:
            return None
        return await self.ledger.account(self.wallet.address_digest)

    async def suggest_fee(self) -> int:
        """A fee that beats the median pending fee rate, never below the policy's minimum."""
        entries = await self.ledger.mempool_entries()
        if not entries:
            return self.policy.min_fee
        rates = sorted(e.fee_rate for e in entries)
        return max(self.policy.min_fee, int(rates[len(rates) // 2] * 150) + 1)

    async def send(self, to: str, amount: int, fee: int, memo: bytes = b"") -> Transaction:
        """Sign with the wallet key and submit; raises AddressError, WalletError,
        ValidationError with reasons a person can act on."""
        recipient = self.parse_address(to)
        if self.wallet is None:
            raise WalletError("no wallet: create or load one first")
        if self._key is None:
            raise WalletError("the wallet is locked: unlock it with its passphrase")
        account = await self.ledger.account(self.wallet.address_digest)
        check_payment(amount=amount, fee=fee, available=account.available, recipient=recipient,
                      own_address=self.wallet.address_digest)
        key = self._key
        tx = await asyncio.to_thread(make_payment, key, self.params.network_id, recipient,
                                     amount, fee, account.next_nonce, memo)
        await self.ledger.submit_tx(tx, source="wallet")
        log.info("sent %s to %s (txid %s)", format_amount(amount), to, tx.txid_hex)
        return tx
