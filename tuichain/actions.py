"""Node actions reachable from any screen and from the command palette.

Each runs the node's async API in a worker and reports the outcome as a toast,
so a key press never waits on the miner or the network.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.app import App
from textual.notifications import SeverityLevel

from .config import STATE_FILE, remember_peer
from .core.errors import CoreError
from .display.plural import plural
from .net.addrbook import normalize_url
from .screens.dialogs import TextInputDialog

if TYPE_CHECKING:
    from .node import Node

log = logging.getLogger("tuichain.app")

NO_WALLET = "Mining pays to your wallet: create one on the Wallet screen (w) first."


def error_text(exc: BaseException) -> str:
    """What went wrong in words a person can act on (CoreError carries a reason)."""
    if isinstance(exc, CoreError):
        return exc.reason
    return str(exc) or type(exc).__name__


def app_clock(app: App[Any]) -> Callable[[], float]:
    """The App's idea of "now": an App may set a ``clock`` attribute (a callable
    returning epoch seconds) to freeze what is displayed, which is how the
    snapshot tests stay deterministic."""
    clock = getattr(app, "clock", None)
    return clock if callable(clock) else time.time


def app_node(app: App[Any]) -> Node | None:
    """The app's node once it is running; None while it starts or after it stopped."""
    node = getattr(app, "node", None)
    if node is None or not getattr(app, "node_ready", True):
        return None
    if getattr(node, "_ledger", None) is None or getattr(node, "_net", None) is None:
        return None
    return cast("Node", node)


class NodeActionsApp(App[int]):
    node: Node
    node_ready: bool

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        # Toasts carry typed URLs, paths and peers' reasons; parsed as markup, a
        # stray "[/b]" raised MarkupError while rendering and ended the app. No
        # toast of ours uses markup, so every caller (screens too) gets plain text.
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def running_node(self) -> Node | None:
        """The node if it runs, else a toast saying why nothing happened."""
        if not self.node_ready:
            self.notify("The node is not running yet.", severity="warning")
            return None
        return self.node

    @work(group="save-peer", exit_on_error=False)
    async def remember_peer(self, url: str) -> None:
        """A peer added in the dashboard is the user's choice: dial it at every start."""
        node = self.node
        if url not in node.config.peers:
            node.config.peers.append(url)
        try:
            await asyncio.to_thread(remember_peer, node.config.data_dir, url)
        except Exception as exc:
            self.notify(f"Peer not saved to {STATE_FILE}: {error_text(exc)}", severity="warning")

    # ---- copying ----------------------------------------------------------------------
    def copy_text(self, text: str, what: str) -> None:
        """Copy ``text`` where the user can paste it, and say where that is.

        Inside tmux, OSC 52 reaches the outer terminal only if tmux's
        set-clipboard lets it through, so the tmux buffer (prefix ] pastes it) is
        the place that always works; elsewhere OSC 52 asks the terminal itself."""
        if os.environ.get("TMUX"):
            self._copy_to_tmux(text, what)
        else:
            self._copy_osc52(text, what)

    def _copy_osc52(self, text: str, what: str, note: str = "") -> None:
        self.copy_to_clipboard(text)
        self.notify(
            f"{note}Copied {text} to the terminal's clipboard with OSC 52 "
            "(if the terminal allows it).",
            title=what,
        )

    @work(group="copy", exit_on_error=False)
    async def _copy_to_tmux(self, text: str, what: str) -> None:
        # A subprocess awaited here, so a slow or stuck tmux never holds the loop.
        try:
            proc = await asyncio.create_subprocess_exec(
                "tmux", "set-buffer", "--", text,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )
            _, err = await asyncio.wait_for(proc.communicate(), timeout=5)
        except (OSError, TimeoutError) as exc:
            self._copy_osc52(text, what, f"tmux set-buffer failed ({error_text(exc)}). ")
            return
        if proc.returncode != 0:
            reason = err.decode(errors="replace").strip() or f"exit {proc.returncode}"
            self._copy_osc52(text, what, f"tmux set-buffer failed ({reason}). ")
            return
        self.notify(f"Copied {text} to the tmux buffer (prefix ] pastes it).", title=what)

    # ---- mining ---------------------------------------------------------------------
    def action_mine_one(self) -> None:
        node = self.running_node()
        if node is None:
            return
        if node.wallet is None:
            self.notify(NO_WALLET, severity="error")
            return
        self.notify("Mining one block…", timeout=3)
        self._mine_one()

    @work(exclusive=True, group="mine-one", exit_on_error=False)
    async def _mine_one(self) -> None:
        try:
            await self.node.mining.mine_one()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the worker itself is being cancelled
            self.notify("Mining stopped before a block was found.", severity="warning")
        except Exception as exc:
            self.notify(f"Mining failed: {error_text(exc)}", severity="error")

    def action_toggle_mining(self) -> None:
        node = self.running_node()
        if node is None:
            return
        if node.mining.continuous:
            node.mining.stop()
            self.notify("Mining stopped.")
        elif node.wallet is None:
            self.notify(NO_WALLET, severity="error")
        else:
            node.mining.start_continuous()
            self.notify(f"Mining with {plural(node.mining.workers, 'worker')}.")

    # ---- network --------------------------------------------------------------------
    def action_add_peer(self) -> None:
        def connect(url: str | None) -> None:
            if url:
                self._connect_peer(url.strip())

        self.push_screen(
            TextInputDialog(
                "Add a peer",
                "Peer address (http://host:port):",
                placeholder="http://127.0.0.1:5001",
                check=_check_peer_url,
            ),
            connect,
        )

    @work(group="connect", exit_on_error=False)
    async def _connect_peer(self, url: str) -> None:
        node = self.running_node()
        if node is None:
            return
        try:
            await node.net.connect(url)
        except Exception as exc:
            self.notify(error_text(exc), title="Not connected", severity="error")
        else:
            self.notify(f"Connected to {url}.")
            self.remember_peer(normalize_url(url))

    def action_sync_now(self) -> None:
        if self.running_node() is not None:
            self._sync_now()

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def _sync_now(self) -> None:
        try:
            result: Any = self.node.net.sync_now()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            self.notify(f"Sync failed: {error_text(exc)}", severity="error")
        else:
            self.notify("Asked peers for newer blocks.")

    # ---- wallet (the Wallet screen does the work) -------------------------------------
    async def action_new_wallet(self) -> None:
        await self.switch_mode("wallet")
        action = getattr(self.screen, "action_create_wallet", None)
        if action is not None:
            await action()

    async def action_send(self) -> None:
        await self.switch_mode("wallet")
        action = getattr(self.screen, "action_focus_send", None)
        if action is not None:
            action()


def _check_peer_url(text: str) -> str | None:
    """The same rule the peers screen and the node apply (net.addrbook.normalize_url)."""
    if not text.strip():
        return "enter a peer address, for example http://127.0.0.1:5001"
    try:
        normalize_url(text)
    except ValueError as exc:
        return str(exc)
    return None
