"""The aiohttp application: the peer websocket at /p2p and the REST API under /api.

`make_app(node, peers)` is a factory (no module-level app or session). The peer
manager's lifetime belongs to the node; the app only closes the open websockets
on shutdown, because the runner waits for every handler (and so every /p2p
connection) to end before it cleans up.
"""

from __future__ import annotations

from aiohttp import web

from .net.context import NodeContext
from .net.manager import PeerManager
from .net.rest import MAX_BODY, NODE_KEY, PEERS_KEY, add_routes, json_errors

__all__ = ["NODE_KEY", "PEERS_KEY", "make_app"]


async def _close_websockets(app: web.Application) -> None:
    # on_shutdown runs before handlers are waited for: open /p2p handlers end here.
    await app[PEERS_KEY].close_connections()


def make_app(node: NodeContext, peers: PeerManager) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
    app[NODE_KEY] = node
    app[PEERS_KEY] = peers
    app.on_shutdown.append(_close_websockets)
    app.router.add_get("/p2p", peers.handle_ws)
    add_routes(app)
    return app
