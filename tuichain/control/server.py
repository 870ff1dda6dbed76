"""The control endpoints under /control, behind the cookie's bearer token.

`install(app, node)` writes a fresh cookie and mounts the control sub-app on
the node's aiohttp application; `remove_cookie` deletes it when the node
stops. The sub-app's middleware checks the token before any route is looked
at, and a catch-all route keeps unknown paths behind it too, so without the
token every request under /control gets the same 401 and reaches nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from ..core.amounts import parse_amount
from ..core.block import Block
from ..core.errors import AddressError, CoreError
from ..core.mining import MiningController
from ..core.tx import Transaction
from ..core.wallet import WalletInfo
from ..net.links import LinkFilter, LinkFilterError
from ..net.manager import PeerManager
from ..net.rest import ApiError, Handler, error_response
from . import MAX_MINE, PREFIX, cookie_path


class Status(Protocol):
    @property
    def height(self) -> int: ...

    def as_json(self) -> dict[str, Any]: ...


class Node(Protocol):
    """What the control channel drives: the node that installs it (`tuichain.node.Node`)."""

    wallet: WalletInfo | None

    @property
    def address(self) -> str | None: ...

    @property
    def data_dir(self) -> Path: ...

    @property
    def mining(self) -> MiningController: ...

    @property
    def node_id(self) -> str: ...

    @property
    def net(self) -> PeerManager: ...

    def errors(self) -> list[str]: ...

    def status(self) -> Status: ...

    def parse_address(self, text: str) -> bytes: ...

    async def create_wallet(self, passphrase: str | None) -> WalletInfo: ...

    async def suggest_fee(self) -> int: ...

    async def send(self, to: str, amount: int, fee: int, memo: bytes = b"") -> Transaction: ...

NODE: web.AppKey[Node] = web.AppKey("control-node")
TOKEN: web.AppKey[str] = web.AppKey("control-token")
PROGRESS_SECONDS = 1.0  # a progress line this often keeps a slow `mine` answer visibly alive


def write_cookie(data_dir: Path) -> str:
    """A new token in a file only the owner can read, replacing the last run's atomically."""
    token = secrets.token_hex(32)
    path = cookie_path(data_dir)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    # Created 0600 from the start: there is no moment another user could open it.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    return token


def remove_cookie(data_dir: Path, token: str) -> None:
    """Delete the cookie if it is still ours (a newer node may have replaced it)."""
    path = cookie_path(data_dir)
    with contextlib.suppress(OSError):
        if path.read_text().strip() == token:
            path.unlink()


def install(app: web.Application, node: Node) -> str:
    token = write_cookie(node.data_dir)
    control = web.Application(middlewares=[_require_token])
    control[NODE] = node
    control[TOKEN] = token
    control.router.add_get("/status", status)
    control.router.add_post("/mine", mine)
    control.router.add_post("/send", send)
    control.router.add_get("/mining", mining_status)
    control.router.add_post("/mining/start", mining_start)
    control.router.add_post("/mining/stop", mining_stop)
    control.router.add_get("/links", links)
    control.router.add_put("/links", set_links)
    control.router.add_route("*", "/{tail:.*}", _unknown)
    app.add_subapp(PREFIX, control)
    return token


@web.middleware
async def _require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {request.app[TOKEN]}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return error_response(
            401, "unauthorized",
            "control requests need the token in the node's control.cookie "
            "(Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await handler(request)


async def _unknown(request: web.Request) -> web.Response:
    return error_response(404, "not-found", f"no control endpoint {request.path}")


def _fail(status: int, code: str, message: str) -> ApiError:
    # The node app's json_errors middleware also wraps this sub-app: same JSON errors.
    return ApiError(status, code, message)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        doc = await request.json()
    except ValueError:
        raise _fail(400, "bad-json", "the body is not JSON") from None
    if not isinstance(doc, dict):
        raise _fail(400, "bad-json", "the body must be a JSON object")
    return doc


def _mining_json(node: Node) -> dict[str, Any]:
    mining = node.mining
    progress = mining.progress
    return {
        "running": mining.running, "continuous": mining.continuous,
        "workers": mining.workers,
        "hash_rate": progress.rate if progress and mining.running else 0.0,
        "found": len(mining.stats.found), "address": node.address,
        "last_error": mining.error,
    }


def status_json(node: Node) -> dict[str, Any]:
    doc = node.status().as_json()
    doc["mining"] = _mining_json(node)
    doc["sync"] = "syncing" if doc["syncing"] else "synced"
    doc["data_dir"] = str(node.data_dir)
    doc["errors"] = node.errors()
    return doc


async def status(request: web.Request) -> web.Response:
    return web.json_response(status_json(request.app[NODE]))


async def mining_status(request: web.Request) -> web.Response:
    return web.json_response(_mining_json(request.app[NODE]))


async def _ensure_wallet(node: Node) -> None:
    # As `--mine` does: a node asked to mine to itself gets a wallet if it has none.
    if node.wallet is None:
        await node.create_wallet(None)


async def mining_start(request: web.Request) -> web.Response:
    node = request.app[NODE]
    await _ensure_wallet(node)
    node.mining.start_continuous()
    return web.json_response(_mining_json(node))


async def mining_stop(request: web.Request) -> web.Response:
    node = request.app[NODE]
    node.mining.stop()
    return web.json_response(_mining_json(node))


def _mine_request(node: Node, doc: dict[str, Any]) -> tuple[int, bytes | None]:
    count = doc.get("blocks", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_MINE:
        raise _fail(400, "bad-parameter", f"blocks must be a whole number from 1 to {MAX_MINE}")
    to = doc.get("to")
    if to is None:
        return count, None
    if not isinstance(to, str):
        raise _fail(400, "bad-address", "to must be an address")
    try:
        return count, node.parse_address(to)
    except AddressError as exc:
        raise _fail(400, "bad-address", exc.reason) from None


async def mine(request: web.Request) -> web.StreamResponse:
    """Mine N blocks now; the answer is one JSON line per block (and progress), then a summary."""
    node = request.app[NODE]
    count, payout = _mine_request(node, await _body(request))
    if payout is None:
        await _ensure_wallet(node)
    elif node.mining.continuous:
        raise _fail(409, "mining-busy",
                    "continuous mining is running: stop it to mine to another address")
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    lines: asyncio.Queue[Block] = asyncio.Queue()
    task = asyncio.ensure_future(node.mining.mine_blocks(count, payout, lines.put_nowait))
    done = 0
    try:
        while not (task.done() and lines.empty()):
            try:
                block = await asyncio.wait_for(lines.get(), PROGRESS_SECONDS)
            except TimeoutError:
                progress = node.mining.progress
                await _line(response, {"progress": {
                    "done": done, "of": count,
                    "rate": progress.rate if progress else 0.0,
                    "hashes": progress.job_hashes if progress else 0,
                }})
                continue
            done += 1
            await _line(response, {"height": block.txs[0].nonce, "hash": block.hash_hex})
        blocks = task.result()
        await _line(response, {"blocks": [b.hash_hex for b in blocks],
                               "height": node.status().height})
    except RuntimeError as exc:
        await _line(response, {"error": {"code": "mining-failed", "message": str(exc)}})
    finally:
        if not task.done():
            # The client went away: leave no one-shot job grinding for nobody.
            task.cancel()
            if not node.mining.continuous:
                node.mining.stop()
    await response.write_eof()
    return response


def _coins(doc: dict[str, Any], name: str, default: int | None) -> int:
    text = doc.get(name)
    if text is None and default is not None:
        return default
    if not isinstance(text, str):
        raise _fail(400, "bad-amount", f"{name} must be a decimal string of coins, e.g. \"1.5\"")
    try:
        return parse_amount(text, allow_zero=name == "fee")
    except CoreError as exc:
        raise _fail(400, "bad-amount", f"{name}: {exc.reason}") from None


async def send(request: web.Request) -> web.Response:
    """Pay from the node's own wallet (bitcoin-cli's sendtoaddress): {"to", "amount", "fee"?}."""
    node = request.app[NODE]
    doc = await _body(request)
    to = doc.get("to")
    if not isinstance(to, str):
        raise _fail(400, "bad-address", "to must be an address")
    amount = _coins(doc, "amount", None)
    fee = _coins(doc, "fee", await node.suggest_fee())
    try:
        tx = await node.send(to, amount, fee)
    except CoreError as exc:
        raise _fail(400, exc.code, exc.reason) from None
    return web.json_response({"txid": tx.txid_hex, "amount": amount, "fee": fee,
                              "nonce": tx.nonce})


async def _line(response: web.StreamResponse, doc: dict[str, Any]) -> None:
    await response.write(json.dumps(doc).encode() + b"\n")


def links_json(node: Node) -> dict[str, Any]:
    net = node.net
    return {
        "node_id": node.node_id, "partitioned": net.link_filter.partitioned,
        "filter": net.link_filter.as_json(),
        "links": [state.as_json() for state in net.link_states()],
        "split_reports": [r.as_json() for r in net.split_reports],
    }


async def links(request: web.Request) -> web.Response:
    """This node's links: up or down, cut, delay, messages and bytes each way."""
    return web.json_response(links_json(request.app[NODE]))


async def set_links(request: web.Request) -> web.Response:
    """Replace the link filter (net/links.py): {"blocked": [...], "delays": [...]}."""
    node = request.app[NODE]
    try:
        new = LinkFilter.from_json(await _body(request))
    except LinkFilterError as exc:
        raise _fail(400, "bad-filter", str(exc)) from None
    await node.net.set_link_filter(new)
    return web.json_response(links_json(node))
