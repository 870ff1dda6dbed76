"""The read-only REST API, plus POST of a signed transaction (as any public node accepts).

Nothing here reaches the wallet or the miner. Every error is JSON,
{"error": {"code", "message"}}, with a 4xx status for bad input: handlers
raise ApiError and the middleware also converts aiohttp's own HTTP errors
(unknown route, wrong method, body too large) so no HTML page ever leaks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..core.errors import AddressError, DecodeError, StorageError, ValidationError
from ..core.hashing import hex_to_hash
from ..core.keys import decode_address, encode_address
from ..core.tx import BASE_SIZE, MAX_MEMO, Transaction
from . import jsonview as jv
from .context import NodeContext
from .manager import PeerManager
from .openapi import openapi_document

log = logging.getLogger(__name__)

NODE_KEY: web.AppKey[NodeContext] = web.AppKey("node")
PEERS_KEY: web.AppKey[PeerManager] = web.AppKey("peers")
MAX_BODY = 64 * 1024
MAX_PAGE = 100
MAX_HEADERS_PAGE = 500

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


_HTTP_CODES = {
    400: "bad-request",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
}


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(
            exc.status, _HTTP_CODES.get(exc.status, "http-error"), exc.reason, headers
        )
    except Exception:
        log.exception("REST handler failed for %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; see the node log")


# ---- parameter parsing ---------------------------------------------------------------
def _node(request: web.Request) -> NodeContext:
    return request.app[NODE_KEY]


def int_param(request: web.Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    if not text.isdecimal() or len(text) > 12:
        raise ApiError(400, "bad-parameter", f"{name} must be a non-negative integer")
    value = int(text)
    if not lo <= value <= hi:
        raise ApiError(400, "bad-parameter", f"{name} must be between {lo} and {hi}")
    return value


def hash_param(text: str, what: str) -> bytes:
    try:
        return hex_to_hash(text.lower())
    except ValueError:
        raise ApiError(400, "bad-hash", f"{what} must be 64 hex digits") from None


# ---- handlers ------------------------------------------------------------------------
async def status(request: web.Request) -> web.Response:
    return web.json_response(_node(request).status().as_json())


async def supply(request: web.Request) -> web.Response:
    node = _node(request)
    info = await node.ledger.supply_info()
    return web.json_response({
        "height": info.height, "tip": info.tip[::-1].hex(),
        **jv.amount("issued", info.issued),
        **jv.amount("balances", info.balances),
        **jv.amount("unclaimed", info.unclaimed),
        "conserved": info.conserved,
    })


async def blocks(request: web.Request) -> web.Response:
    ledger = _node(request).ledger
    tip = ledger.tip
    assert tip is not None
    count = int_param(request, "count", 20, 1, MAX_PAGE) or 20
    start = int_param(request, "from", max(0, tip.height - count + 1), 0, 2**32)
    assert start is not None
    out = []
    for entry in await ledger.headers_range(start, count):
        data = await ledger.get_block_data(entry.hash)
        size, ntx = (len(data), int.from_bytes(data[80:84], "little")) if data else (0, 0)
        out.append(jv.block_summary(entry, size, ntx))
    return web.json_response({"tip_height": tip.height, "from": start, "blocks": out})


async def headers(request: web.Request) -> web.Response:
    ledger = _node(request).ledger
    count = int_param(request, "count", 100, 1, MAX_HEADERS_PAGE) or 100
    start = int_param(request, "from", 0, 0, 2**32) or 0
    rows = await ledger.headers_range(start, count)
    return web.json_response(
        {
            "from": start,
            "headers": [
                {"height": e.height, "hash": e.header.hash_hex, "hex": e.header.encoded.hex()}
                for e in rows
            ],
        }
    )


async def block(request: web.Request) -> web.Response:
    node = _node(request)
    ledger = node.ledger
    ref = request.match_info["ref"]
    if ref.isdecimal() and len(ref) <= 10:
        found = await ledger.hash_at(int(ref))
        if found is None:
            raise ApiError(404, "not-found", f"no block at height {ref} on the active chain")
        block_hash = found
    else:
        block_hash = hash_param(ref, "a block hash")
    entry = await ledger.get_header(block_hash)
    if entry is None:
        raise ApiError(404, "not-found", "unknown block")
    tip = ledger.tip
    assert tip is not None
    active = await ledger.hash_at(entry.height) == entry.hash
    body = await ledger.get_block(block_hash)
    if body is None:
        view = {
            **jv.header_json(entry.header),
            "height": entry.height,
            "chainwork": hex(entry.chainwork),
            "status": jv.STATUS_NAMES.get(entry.status, "?"),
            "confirmations": 0,
            "txs": [],
        }
        return web.json_response(view)
    return web.json_response(jv.block_json(body, entry, active, tip.height, node.params.hrp))


async def tx(request: web.Request) -> web.Response:
    node = _node(request)
    txid = hash_param(request.match_info["txid"], "a txid")
    info = await node.ledger.tx_info(txid)
    if info is None:
        raise ApiError(404, "not-found", "unknown transaction")
    return web.json_response(jv.tx_info_json(info, node.params.hrp))


async def address(request: web.Request) -> web.Response:
    node = _node(request)
    text = request.match_info["address"]
    try:
        digest = decode_address(node.params.hrp, text)
    except AddressError as exc:
        raise ApiError(400, "bad-address", exc.reason) from None
    limit = int_param(request, "limit", 50, 1, MAX_PAGE) or 50
    before = int_param(request, "before", None, 0, 2**32)
    account = await node.ledger.account(digest)
    history = await node.ledger.history(digest, limit, before)
    return web.json_response(
        jv.account_json(encode_address(node.params.hrp, digest), account, history, node.params.hrp)
    )


async def mempool(request: web.Request) -> web.Response:
    node = _node(request)
    limit = int_param(request, "limit", 1000, 1, 20_000) or 1000
    entries = await node.ledger.mempool_entries()
    return web.json_response(
        {
            "count": len(entries),
            "bytes": sum(e.tx.size for e in entries),
            "txs": [jv.mempool_entry_json(e, node.params.hrp) for e in entries[:limit]],
        }
    )


async def peers(request: web.Request) -> web.Response:
    net = request.app[PEERS_KEY]
    return web.json_response(
        {
            "peers": [jv.peer_json(p) for p in net.peer_infos()],
            "bans": [{"key": b.key, "until": b.until, "reason": b.reason} for b in net.ban_list()],
            "syncing": net.syncing,
        }
    )


async def submit_tx(request: web.Request) -> web.Response:
    node = _node(request)
    raw = await request.read()  # over client_max_size: 413, turned into JSON above
    try:
        body: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "bad-json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad-request", 'the body must be a JSON object {"tx": "<hex>"}')
    if "tx" not in body:
        raise ApiError(400, "missing-field", 'field "tx" is required')
    text = body["tx"]
    if not isinstance(text, str):
        raise ApiError(400, "bad-type", 'field "tx" must be a hex string')
    if len(text) > 2 * (BASE_SIZE + MAX_MEMO):
        raise ApiError(400, "bad-tx", "transaction is longer than any valid one")
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise ApiError(400, "bad-hex", 'field "tx" is not hex') from None
    try:
        transaction = Transaction.decode(data)
    except DecodeError as exc:
        raise ApiError(400, "malformed-tx", exc.reason) from None
    try:
        await node.ledger.submit_tx(transaction, source="rest")
    except ValidationError as exc:
        raise ApiError(422, exc.code, exc.reason) from None
    except StorageError as exc:
        raise ApiError(503, exc.code, exc.reason) from None
    return web.json_response({"txid": transaction.txid_hex, "status": "pending"}, status=202)


async def tx_life(request: web.Request) -> web.Response:
    node = _node(request)
    txid = hash_param(request.match_info["txid"], "a txid")
    life = request.app[PEERS_KEY].txlife
    line = life.get(txid) if life is not None else None
    if line is None:
        raise ApiError(404, "not-found", "this node has no record of that transaction")
    info = await node.ledger.tx_info(txid)
    return web.json_response({
        **line.as_json(),
        "in_mempool": info is not None and info.in_mempool,
        "confirmations": info.confirmations if info is not None else 0,
    })


async def rejections(request: web.Request) -> web.Response:
    log_ = request.app[PEERS_KEY].rejections
    limit = int_param(request, "limit", 50, 1, 500) or 50
    entries = log_.recent(limit) if log_ is not None else []
    return web.json_response({
        "count": len(log_) if log_ is not None else 0,
        "rejections": [e.as_json() for e in entries],
    })


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/supply", supply)
    app.router.add_get("/api/blocks", blocks)
    app.router.add_get("/api/blocks/{ref}", block)
    app.router.add_get("/api/headers", headers)
    app.router.add_get("/api/txs/{txid}", tx)
    app.router.add_get("/api/txs/{txid}/life", tx_life)
    app.router.add_get("/api/rejections", rejections)
    app.router.add_post("/api/txs", submit_tx)
    app.router.add_get("/api/addresses/{address}", address)
    app.router.add_get("/api/mempool", mempool)
    app.router.add_get("/api/peers", peers)
    app.router.add_get("/api/openapi.json", openapi)
