"""Command palette entries for the node's main actions and the screens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

SCREENS = (
    ("wallet", "Wallet: address, balance, send, history"),
    ("mining", "Mining: hash rate, blocks found"),
    ("mempool", "Open transactions (mempool)"),
    ("explorer", "Explorer: blocks and transactions"),
    ("peers", "Peers: connections and bans"),
    ("log", "Log: node events"),
)


class NodeCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app: Any = self.app
        commands: list[tuple[str, str, Callable[[], Any]]] = [
            ("Mine one block", "Mine exactly one block on the current tip", app.action_mine_one),
            ("Start/stop mining", "Mine continuously, or stop", app.action_toggle_mining),
            ("New wallet", "Create a wallet (optionally with a passphrase)", app.action_new_wallet),
            ("Send", "Send coins from this wallet", app.action_send),
            ("Add peer", "Connect to another node by address", app.action_add_peer),
            (
                "Resolve conflicts (sync now)",
                "Ask peers for a better chain now",
                app.action_sync_now,
            ),
        ]
        for mode, help_text in SCREENS:
            commands.append((f"Go to {mode}", help_text, _switcher(app, mode)))
        return commands

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


def _switcher(app: Any, mode: str) -> Callable[[], Any]:
    def switch() -> Any:
        return app.switch_mode(mode)

    return switch
