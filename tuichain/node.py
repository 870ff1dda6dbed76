"""The composition root: ledger, mining, wallet, peers and the HTTP server, and their lifetimes.

The TUI and --headless run the same Node; tests start several in one loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from . import __version__
from .config import NodeConfig
from .control import server as control
from .core import wallet as keystore
from .core.amounts import format_amount
from .core.errors import WalletError
from .core.events import BlockRejected, EventBus, TxRejected, WalletChanged
from .core.identity import NodeIdentity, load_or_create
from .core.keys import PrivateKey, decode_address, encode_address
from .core.ledger import Ledger
from .core.ledger_reads import AccountInfo
from .core.mining import MiningController
from .core.mining.auto import AutoMiner
from .core.payment import check_payment
from .core.rejectlog import RejectLog
from .core.tx import Transaction, make_payment
from .core.txlife import LIFE_FILE, LifeStore, TxLife
from .datadir import DataDirLock, lock_data_dir
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
    # What stops the node from doing its work (the store cannot write...); None when well.
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version, "network": self.network, "port": self.port,
            "height": self.height,
            "tip": self.tip, "tip_time": self.tip_time, "chainwork": hex(self.chainwork),
            "peers": self.peers, "mempool": self.mempool, "syncing": self.syncing,
            "hash_rate": self.hash_rate, "mining": self.mining, "error": self.error,
        }


class Node:
    def __init__(self, config: NodeConfig, *, lock: DataDirLock | None = None) -> None:
        """``lock``: the data directory's lock when the entry point took it already
        (before reading settings.toml); it then stays the entry point's to release.
        Without one, start() takes it and stop() releases it."""
        self.config = config
        self._lock = lock
        self._owns_lock = lock is None
        self.params = config.network
        self.policy = config.policy
        self.node_id = ""  # the identity's, once start() loaded it
        self._identity: NodeIdentity | None = None
        self.started_at = time.time()
        self._ledger: Ledger | None = None
        self._mining: MiningController | None = None
        self._net: PeerManager | None = None
        self._runner: web.AppRunner | None = None
        self._auto: AutoMiner | None = None
        self._control_token: str | None = None
        self.wallet: keystore.WalletInfo | None = None
        self._key: PrivateKey | None = None
        self.stopped_height: int | None = None  # the stored tip once stop() has closed
        self.port = config.port
        # The explainers' recorders: a transaction's life, the last refusals.
        # Their clock: the snapshot tests pin it, as they pin the App's.
        self.clock: Callable[[], float] = time.time
        self.rejections = RejectLog(clock=lambda: self.clock())
        self.txlife: TxLife | None = None
        self._life_store: LifeStore | None = None

    # ---- lifetime ---------------------------------------------------------
    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()  # a refused start leaves nothing running and the lock free
            raise

    async def _start(self) -> None:
        if self._lock is None or not self._lock.held:
            self._lock = lock_data_dir(self.config.data_dir)
            self._owns_lock = True
        # The wallet before the ledger: a damaged key file stops the start before
        # anything is opened, and never ends in a node that runs on without it.
        await self._load_wallet()
        self._identity = await asyncio.to_thread(load_or_create, self.config.data_dir)
        self.node_id = self._identity.node_id
        self._ledger = await Ledger.open(self.config.data_dir, self.params, self.policy,
                                         adopt_empty=not self._lock.used_before,
                                         database=self.config.database)
        await self._start_recorders()
        self._mining = MiningController(self.ledger, self._payout, self.config.miner_workers)
        await self._mining.start()
        self._net = PeerManager(self)
        self._net.txlife, self._net.rejections = self.txlife, self.rejections
        await self._net.load()
        app = make_app(self, self._net)
        self._control_token = control.install(app, self)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
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
                if not self.config.use_wallet:
                    raise WalletError("--mine needs a wallet: leave out --no-wallet")
                await self.create_wallet(None)
                log.info("no wallet found: created one at %s", self.wallet_path)
            self.mining.start_continuous()
        if self.config.automine or self.config.block_time is not None:
            if self.wallet is None:
                await self.create_wallet(None)
            self._auto = AutoMiner(self.mining, on_tx=self.config.automine,
                                   interval=self.config.block_time)
            self._auto.start()

    async def stop(self) -> None:
        if self._auto is not None:
            await self._auto.close()
            self._auto = None
        if self._control_token is not None:
            control.remove_cookie(self.config.data_dir, self._control_token)
            self._control_token = None
        if self._mining is not None:
            await self._mining.close()
        if self._net is not None:
            await self._net.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._ledger is not None:
            await self._ledger.close()
            # After the close: a block mined or downloaded as the stop began is imported
            # by then, so this is the height a restart finds.
            tip = self._ledger.tip
            self.stopped_height = tip.height if tip is not None else None
        if self._life_store is not None:
            await asyncio.to_thread(self._life_store.close)
            self._life_store = None
        self._mining = self._net = self._runner = self._ledger = None
        if self._owns_lock and self._lock is not None:
            self._lock.release()
            self._lock = None

    async def _load_wallet(self) -> None:
        if not self.config.use_wallet:
            log.info("starting without a wallet (--no-wallet): %s is not read", self.wallet_path)
            return
        if not keystore.wallet_exists(self.config.data_dir):
            return
        try:
            self.wallet = await asyncio.to_thread(keystore.read_wallet_info,
                                                  self.config.data_dir)
            if not self.wallet.encrypted:
                await self.unlock_wallet(None)
        except WalletError as exc:
            self.wallet = None
            raise WalletError(
                f"{exc.reason}; the node did not start and left the file untouched "
                "(--no-wallet starts it without a wallet)"
            ) from None

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
    def identity(self) -> NodeIdentity:
        if self._identity is None:
            raise RuntimeError("the node is not started")
        return self._identity

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

    def errors(self) -> list[str]:
        """What went wrong that the node carries on without: the store refusing writes,
        mining stopped or waiting for it."""
        found = [self.ledger.storage_error if self._ledger is not None else None,
                 self._mining.error if self._mining is not None else None]
        return [e for e in dict.fromkeys(found) if e]

    @property
    def events(self) -> EventBus:
        return self.ledger.events

    def status(self) -> NodeStatus:
        tip = self.ledger.tip
        assert tip is not None
        progress = self.mining.progress if self._mining else None
        # Waiting for the store to take a found block is not mining.
        running = (self._mining is not None and self.mining.running
                   and self.mining.blocked is None)
        error = self.ledger.storage_error or (self.mining.error if self._mining else None)
        return NodeStatus(
            network=self.params.name, port=self.port, height=tip.height,
            tip=tip.hash[::-1].hex(), tip_time=tip.time, chainwork=tip.chainwork,
            peers=len(self.net.peer_infos()) if self._net else 0,
            mempool=self.ledger.mempool_size, syncing=self.net.syncing if self._net else False,
            hash_rate=progress.rate if progress and running else 0.0, mining=running,
            error=error,
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
        self._set_wallet(info, key)
        return info

    async def unlock_wallet(self, passphrase: str | None) -> keystore.WalletInfo:
        info, key = await asyncio.to_thread(keystore.load_wallet, self.config.data_dir,
                                            passphrase)
        self._set_wallet(info, key)
        return info

    def _set_wallet(self, info: keystore.WalletInfo, key: PrivateKey | None) -> None:
        self.wallet, self._key = info, key
        # Screens showed "no wallet" (or "locked") until something else made them
        # reload: a wallet made over the control channel went unseen until a block.
        if self._ledger is not None:
            self.events.publish(WalletChanged(info.address(self.params.hrp), key is None))

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
        median = await self.ledger.median_fee_rate()
        if median is None:
            return self.policy.min_fee
        return max(self.policy.min_fee, int(median * 150) + 1)

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
