"""The aiohttp application: the peer websocket at /p2p and the REST API under /api.

`make_app(node)` is a factory (no module-level app or session). Its cleanup
context owns the one shared ClientSession used for outbound peer websockets
and, on shutdown, stops the peer manager: every websocket is closed and its
background tasks are cancelled before the session goes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from .net.rest import MAX_BODY, NODE_KEY, add_routes, json_errors

if TYPE_CHECKING:
    from .node import Node

__all__ = ["NODE_KEY", "SESSION_KEY", "make_app"]

SESSION_KEY: web.AppKey[aiohttp.ClientSession] = web.AppKey("session")


async def _network_context(app: web.Application) -> AsyncIterator[None]:
    node = app[NODE_KEY]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10))
    app[SESSION_KEY] = session
    node.net.bind_session(session)
    yield
    await node.net.stop()
    await session.close()


async def _close_websockets(app: web.Application) -> None:
    # on_shutdown runs before handlers are waited for: open /p2p handlers end here.
    await app[NODE_KEY].net.stop()


def make_app(node: Node) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
    app[NODE_KEY] = node
    app.cleanup_ctx.append(_network_context)
    app.on_shutdown.append(_close_websockets)
    app.router.add_get("/p2p", node.net.handle_ws)
    add_routes(app)
    return app
