"""The Textual app: modes, key bindings, the node's lifetime and its events as messages.

The app owns one Node and runs it in its own event loop. The first screen is
shown at once while the node starts in a worker; node events arrive on the
loop through the EventBus, become typed messages (`tuichain.messages`), and
are handed to every mode screen that exists (miner progress at most a few
times a second).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import threading
import time
from collections import deque
from typing import Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.notifications import Notification, Notify
from textual.screen import Screen
from textual.widget import AwaitMount
from textual.widgets import Footer

from .actions import NodeActionsApp
from .config import LOG_FILE, STATE_FILE, NodeConfig, port_not_allowed, save_state
from .control.lab import Lab
from .core.amounts import format_amount
from .core.events import (
    BlockFound,
    LogEvent,
    MinerUpdate,
    NewTip,
    PeersChanged,
    Reorg,
    TxAccepted,
)
from .datadir import DataDirLock
from .display.plural import plural
from .gc_pauses import freeze_imports, thaw
from .logsetup import setup_logging, shutdown_logging
from .messages import NodeEvent, NodeFailure, NodeMessage, NodeStart, message_for
from .node import Node
from .screens.dialogs import InfoDialog
from .screens.explorer import ExplorerScreen
from .screens.help import HelpScreen, key_rows
from .screens.lab import LabScreen
from .screens.log import LogScreen
from .screens.mempool import MempoolScreen
from .screens.mining import MiningScreen
from .screens.peers import PeersScreen
from .screens.rejections import RejectionsScreen
from .screens.retarget import RetargetScreen
from .screens.wallet import WalletScreen
from .widgets.focus import typing
from .widgets.palette import NodeCommands
from .widgets.status_bar import StatusBar

log = logging.getLogger("tuichain.app")

# Miner progress arrives about four times a second per update source; screens
# redraw from it, so cap what they see.
MINER_UPDATE_INTERVAL = 0.2
RECENT_EVENTS = 500
# A balance check reads the account on the ledger's writer thread; during a
# long sync one check per this interval is plenty.
BALANCE_CHECK_DELAY = 0.5


class _EventLogHandler(logging.Handler):
    """Log records as LogEvents on the node's bus, so the Log screen shows them."""

    def __init__(self, app: TuichainApp, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.INFO)
        self._app = app
        self._loop = loop
        self._loop_thread = threading.get_ident()
        # Publishing may itself log (a failing subscriber); never recurse.
        self._busy = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            event = LogEvent(record.levelname, record.getMessage())
            if threading.get_ident() == self._loop_thread:
                self._app.publish_event(event)
            elif not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._app.publish_event, event)
        except Exception:
            pass  # logging must never take the UI down
        finally:
            self._busy.on = False


def describe_start_error(exc: BaseException, port: int) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} is already in use (another tuichain node?). "
            "Start with a different --port."
        )
    if isinstance(exc, OSError) and exc.errno == errno.EACCES:
        return f"{port_not_allowed(port)}."
    reason = getattr(exc, "reason", None)
    return str(reason or exc) or type(exc).__name__


SCREEN_KEYS = Binding.Group("screens", compact=False)


def _screen_key(key: str, mode: str, label: str) -> Binding:
    return Binding(key, f"switch_mode('{mode}')", label, group=SCREEN_KEYS, priority=True)


class TuichainApp(NodeActionsApp):
    CSS_PATH = "tuichain.tcss"
    TITLE = "tuichain"
    MODES: ClassVar[dict[str, Any]] = {
        "wallet": WalletScreen,
        "mining": MiningScreen,
        "mempool": MempoolScreen,
        "explorer": ExplorerScreen,
        "peers": PeersScreen,
        "rejections": RejectionsScreen,
        "retarget": RetargetScreen,
        "log": LogScreen,
        "lab": LabScreen,
    }
    DEFAULT_MODE = "wallet"
    BINDINGS: ClassVar[list[BindingType]] = [
        # The eight screen keys share one footer label ("w m o e p x t l screens"), so
        # at 80 columns the footer still holds each screen's own keys, help and
        # quit; the help screen (?) names each one. Priority, so a burst of them
        # switches in the order typed: as ordinary bindings each ran only once its key
        # had bubbled back up from the screen it was routed to, and a screen still
        # mounting held its key while later ones ran (see check_action).
        _screen_key("w", "wallet", "Wallet screen"),
        _screen_key("m", "mining", "Mining screen"),
        _screen_key("o", "mempool", "Open transactions"),
        _screen_key("e", "explorer", "Explorer screen"),
        _screen_key("p", "peers", "Peers screen"),
        _screen_key("x", "rejections", "Why was it refused?"),
        _screen_key("t", "retarget", "Difficulty retarget"),
        _screen_key("l", "log", "Log screen"),
        # Only on a devnet's node (check_action hides it elsewhere).
        _screen_key("g", "lab", "Network lab"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]
    COMMANDS = App.COMMANDS | {NodeCommands}

    def __init__(self, config: NodeConfig, node: Node | None = None) -> None:
        super().__init__()
        self.config = config
        self.node: Node = node if node is not None else Node(config)
        self.node_ready = False
        # The devnet this node belongs to (its data dir is a devnet's nodeK), if any.
        self.lab = Lab.of_data_dir(config.data_dir)
        self.start_error: str | None = None
        self.clock = time.time
        self.recent_events: deque[tuple[float, NodeEvent]] = deque(maxlen=RECENT_EVENTS)
        self._mode_screens: dict[str, Screen[Any]] = {}
        self._unsubscribe: Any = None
        self._log_handler: _EventLogHandler | None = None
        self._miner_last = 0.0
        self._tip_pending: NewTip | None = None  # see _on_core_event
        self._miner_pending: MinerUpdate | None = None
        self._balance: int | None = None
        self._expected_rise = 0
        self._balance_timer: Any = None
        self._stopping = False
        self._start_task: asyncio.Future[None] | None = None
        self._block_toast: Notification | None = None

    # ---- lifetime ------------------------------------------------------------------
    def on_mount(self) -> None:
        setup_logging(self.config.data_dir / LOG_FILE, stdout=False)
        self._log_handler = _EventLogHandler(self, asyncio.get_running_loop())
        for name in ("tuichain", "aiohttp"):
            logging.getLogger(name).addHandler(self._log_handler)
        self._adopt_screen(self.current_mode, self.screen)
        self._apply_stored_theme()
        # A plain task, not a Textual worker: a worker is cancelled when the app
        # closes, and a start cut off half way could leave miner processes behind.
        # Leaving waits for it instead (see _stop_node).
        self._start_task = asyncio.ensure_future(self._start_node())

    def _apply_stored_theme(self) -> None:
        wanted = self.config.theme
        if wanted is not None:
            if wanted in self.available_themes:
                self.theme = wanted
            else:
                self.notify(
                    f"theme = {wanted!r} in {self.config.data_dir} is not a theme; "
                    f"using {self.theme}",
                    severity="warning",
                )
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, theme: Any) -> None:
        """The palette's theme choice outlives the run: remember it in state.toml."""
        name = str(theme.name)
        if name == self.config.theme:
            return
        self.config.theme = name
        self._save_theme(name)

    @work(group="save-theme", exit_on_error=False)
    async def _save_theme(self, name: str) -> None:
        try:
            await asyncio.to_thread(save_state, self.config.data_dir, theme=name)
        except Exception as exc:
            self.notify(f"Theme not saved to {STATE_FILE}: {exc}", severity="warning")

    async def _start_node(self) -> None:
        try:
            # A node handed in may already run (tests, a host that owns it).
            if getattr(self.node, "_ledger", None) is None:
                await self.node.start()
        except Exception as exc:
            self.start_error = describe_start_error(exc, self.config.port)
            log.error("node did not start: %s", self.start_error)
            await self._stop_node()
            if not self._stopping:
                self._show_start_error(self.start_error)
            return
        if self._stopping:
            return  # the app is leaving; _stop_node stops the node
        self._unsubscribe = self.node.events.subscribe(self._on_core_event)
        self.node_ready = True
        self._broadcast(NodeStart(self.node.port))
        self.refresh_status()
        self._schedule_balance_check()
        # Textual imports its widgets on first use, after the entry point's freeze: once
        # the screens have drawn with the node's data, their objects go out of later
        # collections too (a full one during a sync froze the screen for 40-77 ms).
        self.call_after_refresh(self._freeze_started)

    def _freeze_started(self) -> None:
        if not self._stopping:  # a freeze after on_unmount's thaw would never be undone
            freeze_imports()

    def _show_start_error(self, reason: str) -> None:
        self._broadcast(NodeFailure(reason))
        self.refresh_status()
        self.push_screen(
            InfoDialog(
                "The node did not start",
                [("Reason", reason), ("Data", str(self.config.data_dir))],
                footer="Press q to quit, Escape to look around (the Log screen, l).",
                q_quits=True,
            )
        )

    async def _stop_node(self) -> None:
        task = self._start_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            await asyncio.wait({task})
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.node_ready = False
        try:
            await self.node.stop()
        except Exception:
            log.exception("error while stopping the node")

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        name = self.current_mode if self.screen in self._mode_screens.values() else "dialog"
        self.push_screen(HelpScreen(name, key_rows(self.screen)))

    async def action_quit(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self.notify("Stopping the node…", timeout=10)
        self._quit_worker()

    @work(exclusive=True, group="quit", exit_on_error=False)
    async def _quit_worker(self) -> None:
        await self._stop_node()
        code = 1 if self.start_error else 0
        self.exit(code, return_code=code)

    async def on_unmount(self) -> None:
        # Any way out of the app (quit, an exception, a test ending) stops the node.
        self._stopping = True
        await self._stop_node()
        if self._log_handler is not None:
            for name in ("tuichain", "aiohttp"):
                logging.getLogger(name).removeHandler(self._log_handler)
            self._log_handler = None
        shutdown_logging()
        # What this app froze is garbage from now on: a host that runs the app again in
        # the same process (the tests do) must get it back.
        thaw()

    # ---- modes and chrome ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "switch_mode":
            return True
        # Not a devnet's node: no lab, and no key for it in the footer.
        if parameters == ("lab",) and self.lab is None:
            return False
        # A screen key stands aside in a text box (its letter is text) and under a
        # dialog (which, as a modal screen, would not have heard it as an ordinary key).
        return not (typing(self.screen) or self.screen.is_modal)

    def switch_mode(self, mode: str) -> AwaitMount:
        result = super().switch_mode(mode)
        self._adopt_screen(mode, self.screen)
        return result

    def _adopt_screen(self, mode: str, screen: Screen[Any]) -> None:
        if mode not in self.MODES or mode in self._mode_screens:
            return
        self._mode_screens[mode] = screen
        # In the screen's own queue, behind its compose and mount: after the app's next
        # refresh it could still be unmounted (switched to and away in a burst of
        # keys), and mounting into it then raised MountError.
        screen.call_later(self._add_chrome, screen)

    async def _add_chrome(self, screen: Screen[Any]) -> None:
        missing: list[Any] = []
        # No "^p palette" in the footer: at 80 columns the screen's keys need the
        # room, and the help screen (?) names ctrl+p.
        for footer in screen.query(Footer):
            footer.compact = True
            footer.show_command_palette = False
        if not screen.query(Footer):
            missing.append(Footer(compact=True, show_command_palette=False))
        if not screen.query(StatusBar):
            missing.append(StatusBar())
        if missing:
            await screen.mount(*missing)
        # A Footer draws its keys when bindings change; one mounted after the
        # screen took focus would stay empty until the next change.
        screen.refresh_bindings()

    def mode_screens(self) -> list[Screen[Any]]:
        return list(self._mode_screens.values())

    def refresh_status(self) -> None:
        for screen in self.mode_screens():
            for bar in screen.query(StatusBar):
                bar.refresh_status()

    # ---- events ---------------------------------------------------------------------------
    def publish_event(self, event: NodeEvent) -> None:
        """Publish on the node's bus when it runs; before that, straight to the screens."""
        if self.node_ready and self._unsubscribe is not None:
            self.node.events.publish(event)
        else:
            self.post_message(message_for(event))

    def _on_core_event(self, event: NodeEvent) -> None:
        if isinstance(event, NewTip):
            # A batch of blocks (a sync) publishes a NewTip for each, all in one go:
            # the screens redraw for the last only, once the batch's events are out.
            if self._tip_pending is None:
                asyncio.get_running_loop().call_soon(self._flush_tip)
            self._tip_pending = event
            return
        self.post_message(message_for(event))

    def _flush_tip(self) -> None:
        event, self._tip_pending = self._tip_pending, None
        if event is not None:
            self.post_message(message_for(event))

    def _broadcast(self, event: NodeEvent, when: float | None = None) -> None:
        stamp = time.time() if when is None else when
        for screen in self.mode_screens():
            screen.post_message(message_for(event, stamp))

    @on(NodeMessage)
    def _on_node_message(self, message: NodeMessage[NodeEvent]) -> None:
        event = message.event
        if isinstance(event, MinerUpdate):
            self._throttle_miner(event)
            return
        self.recent_events.append((message.time, event))
        self._broadcast(event, message.time)
        self._toast(event)
        if isinstance(event, NewTip | PeersChanged | Reorg):
            self.refresh_status()
        if isinstance(event, NewTip | Reorg):
            self._schedule_balance_check()

    def _throttle_miner(self, event: MinerUpdate) -> None:
        # Latest wins; a pending update is sent when the interval ends, so the
        # final "stopped" state is never dropped.
        now = time.monotonic()
        if now - self._miner_last >= MINER_UPDATE_INTERVAL and self._miner_pending is None:
            self._miner_last = now
            self._broadcast(event)
            self.refresh_status()
            return
        if self._miner_pending is None:
            delay = max(0.001, MINER_UPDATE_INTERVAL - (now - self._miner_last))
            self.set_timer(delay, self._flush_miner)
        self._miner_pending = event

    def _flush_miner(self) -> None:
        event, self._miner_pending = self._miner_pending, None
        if event is not None:
            self._miner_last = time.monotonic()
            self._broadcast(event)
            self.refresh_status()

    def _toast(self, event: NodeEvent) -> None:
        node = self.node
        if isinstance(event, BlockFound):
            self._expected_rise += event.reward
            self._replace_block_toast(
                f"Block {event.height} found: reward {format_amount(event.reward)}"
            )
        elif isinstance(event, Reorg):
            self.notify(
                f"Chain reorganised at height {event.fork_height}: "
                f"{plural(len(event.disconnected), 'block')} replaced by "
                f"{len(event.connected)}",
                title="Reorg",
                severity="warning",
            )
        elif isinstance(event, PeersChanged) and "ban" in event.detail.lower():
            self.notify(event.detail, title="Peer banned", severity="warning")
        elif (
            isinstance(event, TxAccepted)
            and node.wallet is not None
            and event.recipient == node.wallet.address_digest
            and event.sender != node.wallet.address_digest
        ):
            self.notify(
                f"{format_amount(event.amount)} incoming (pending confirmation)",
                title="Funds received",
            )

    def _replace_block_toast(self, text: str) -> None:
        """One "block found" toast, replaced by the next: continuous mining on
        regtest finds several a second, and a stack of them covers the status bar."""
        previous = self._block_toast
        if previous is not None and previous in self._notifications:
            self._unnotify(previous, refresh=False)
        note = Notification(text, "Mined", "information", self.NOTIFICATION_TIMEOUT, markup=False)
        self._block_toast = note
        self.post_message(Notify(note))

    def _schedule_balance_check(self) -> None:
        if self._balance_timer is None:
            self._balance_timer = self.set_timer(BALANCE_CHECK_DELAY, self._check_balance)

    @work(exclusive=True, group="balance", exit_on_error=False)
    async def _check_balance(self) -> None:
        self._balance_timer = None
        if not self.node_ready:
            return
        try:
            account = await self.node.wallet_account()
        except Exception:
            return  # node stopping; the next tip checks again
        if account is None:
            self._balance = None
            return
        previous, self._balance = self._balance, account.balance
        if previous is None:
            self._expected_rise = 0
            return
        received = account.balance - previous - self._expected_rise
        self._expected_rise = max(0, self._expected_rise - max(0, account.balance - previous))
        if received > 0:
            self.notify(
                f"{format_amount(received)} confirmed; balance {format_amount(account.balance)}",
                title="Funds received",
            )


def run_tui(config: NodeConfig, *, lock: DataDirLock | None = None) -> int:
    """Run the dashboard until the user quits; the exit code is non-zero if the node failed.

    ``lock``: the data directory's lock, when the command took it before reading settings."""
    app = TuichainApp(config, Node(config, lock=lock))
    freeze_imports()
    result = app.run()
    if isinstance(result, int):
        return result
    return app.return_code or 0
