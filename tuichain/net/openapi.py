"""The OpenAPI 3 description of the REST API (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

from .. import __name__ as _pkg
from .. import __version__

_HEX64 = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}


def _amount(name: str) -> dict[str, Any]:
    return {
        name: {"type": "integer", "description": "base units (1 coin = 10^8)"},
        f"{name}_decimal": {"type": "string", "example": "1.5"},
    }


def _ok(ref: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }
    }


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"$ref": "#/components/responses/Error"} for c in codes}


def _query(name: str, desc: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": desc,
        "schema": {"type": "integer", "minimum": 0},
    }


def _path(name: str, desc: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": desc,
        "schema": {"type": "string"},
    }


_TX = {
    "type": "object",
    "properties": {
        "txid": _HEX64,
        "coinbase": {"type": "boolean"},
        "from": {"type": ["string", "null"]},
        "to": {"type": "string"},
        **_amount("amount"),
        **_amount("fee"),
        "nonce": {"type": "integer"},
        "memo": {"type": ["string", "null"]},
        "memo_hex": {"type": "string"},
        "size": {"type": "integer"},
        "hex": {"type": "string", "description": "canonical encoding"},
    },
}

_HEADER = {
    "hash": _HEX64,
    "version": {"type": "integer"},
    "prev": _HEX64,
    "merkle_root": _HEX64,
    "time": {"type": "integer"},
    "bits": {"type": "string"},
    "nonce": {"type": "integer"},
    "height": {"type": "integer"},
    "chainwork": {"type": "string"},
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Status": {
        "type": "object",
        "properties": {
            "version": {"type": "string", "description": "the node software's version"},
            "network": {"type": "string"},
            "port": {"type": "integer"},
            "height": {"type": "integer"},
            "tip": _HEX64,
            "tip_time": {"type": "integer"},
            "chainwork": {"type": "string"},
            "peers": {"type": "integer"},
            "mempool": {"type": "integer"},
            "syncing": {"type": "boolean"},
            "hash_rate": {"type": "number"},
            "mining": {"type": "boolean", "description": "hashing now (false while the "
                       "store cannot take a found block)"},
            "error": {"type": ["string", "null"], "description": "what stops the node from "
                      "working (e.g. the store cannot write); null when all is well"},
        },
    },
    "Supply": {
        "type": "object",
        "description": "The ledger's conservation law at one tip: balances + unclaimed = "
                       "issued (`conserved`). Fees move to miners, so only a coinbase that "
                       "claims less than it may makes `unclaimed` non-zero.",
        "properties": {
            "height": {"type": "integer"},
            "tip": _HEX64,
            **_amount("issued"),
            **_amount("balances"),
            **_amount("unclaimed"),
            "conserved": {"type": "boolean"},
        },
    },
    "Transaction": _TX,
    "BlockSummary": {
        "type": "object",
        "properties": {**_HEADER, "size": {"type": "integer"}, "tx_count": {"type": "integer"}},
    },
    "BlockPage": {
        "type": "object",
        "properties": {
            "tip_height": {"type": "integer"},
            "from": {"type": "integer"},
            "blocks": {"type": "array", "items": {"$ref": "#/components/schemas/BlockSummary"}},
        },
    },
    "Block": {
        "type": "object",
        "properties": {
            **_HEADER,
            "status": {"type": "string", "enum": ["active", "stored", "header-only", "invalid"]},
            "confirmations": {"type": "integer"},
            "size": {"type": "integer"},
            "tx_count": {"type": "integer"},
            "txs": {"type": "array", "items": {"$ref": "#/components/schemas/Transaction"}},
        },
    },
    "HeaderPage": {
        "type": "object",
        "properties": {
            "from": {"type": "integer"},
            "headers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "height": {"type": "integer"},
                        "hash": _HEX64,
                        "hex": {"type": "string", "description": "the 80-byte header"},
                    },
                },
            },
        },
    },
    "TxInfo": {
        "allOf": [
            {"$ref": "#/components/schemas/Transaction"},
            {
                "type": "object",
                "properties": {
                    "in_mempool": {"type": "boolean"},
                    "block": {"type": ["string", "null"]},
                    "height": {"type": ["integer", "null"]},
                    "confirmations": {"type": "integer"},
                    "proof": {
                        "type": ["object", "null"],
                        "description": "Merkle proof: bit i of index says whether branch[i] is "
                        "on the left; "
                        "hashes in display (byte-reversed) form",
                        "properties": {
                            "index": {"type": "integer"},
                            "branch": {"type": "array", "items": _HEX64},
                            "root": _HEX64,
                        },
                    },
                },
            },
        ]
    },
    "Account": {
        "type": "object",
        "properties": {
            "address": {"type": "string"},
            **_amount("balance"),
            **_amount("available"),
            **_amount("pending"),
            "nonce": {"type": "integer"},
            "next_nonce": {"type": "integer"},
            "history": {"type": "array", "items": {"$ref": "#/components/schemas/Transaction"}},
        },
    },
    "Mempool": {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "bytes": {"type": "integer"},
            "txs": {"type": "array", "items": {"$ref": "#/components/schemas/Transaction"}},
        },
    },
    "Peers": {
        "type": "object",
        "properties": {
            "syncing": {"type": "boolean"},
            "peers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "peer_id": {"type": "string"},
                        "url": {"type": ["string", "null"]},
                        "direction": {"type": "string", "enum": ["in", "out"]},
                        "node_id": {"type": "string"},
                        "height": {"type": "integer"},
                        "chainwork": {"type": "string"},
                        "latency_ms": {"type": ["number", "null"]},
                        "score": {"type": "integer"},
                        "connected_since": {"type": "number"},
                        "bytes_sent": {"type": "integer"},
                        "bytes_received": {"type": "integer"},
                        "messages_sent": {"type": "integer"},
                        "messages_received": {"type": "integer"},
                    },
                },
            },
            "bans": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string"},
                        "until": {"type": "number"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    },
    "TxLife": {
        "type": "object",
        "required": ["txid", "events"],
        "properties": {
            "txid": _HEX64,
            "own": {"type": "boolean", "description": "sent or received by this wallet"},
            "height": {"type": ["integer", "null"], "description": "its block on the chain"},
            "announced_to": {"type": "integer"},
            "seen_by": {"type": "integer", "description": "peers that announced or asked"},
            "in_mempool": {"type": "boolean"},
            "confirmations": {"type": "integer"},
            "events": {
                "type": "array",
                "description": "oldest first",
                "items": {
                    "type": "object",
                    "required": ["time", "kind", "text"],
                    "properties": {
                        "time": {"type": "number"},
                        "kind": {"type": "string", "enum": [
                            "origin", "received", "accepted", "refused", "announced", "seen",
                            "included", "confirmed", "disconnected", "returned", "dropped",
                            "replaced", "evicted"]},
                        "text": {"type": "string"},
                        "height": {"type": ["integer", "null"]},
                        "block": {"type": ["string", "null"]},
                        "peer": {"type": ["string", "null"]},
                        "code": {"type": ["string", "null"]},
                        "other": {"type": ["string", "null"], "description": "replacing txid"},
                    },
                },
            },
        },
    },
    "Rejections": {
        "type": "object",
        "required": ["count", "rejections"],
        "properties": {
            "count": {"type": "integer", "description": "entries kept (a bounded buffer)"},
            "rejections": {
                "type": "array",
                "description": "newest first",
                "items": {
                    "type": "object",
                    "required": ["time", "kind", "source", "code", "explanation", "reason"],
                    "properties": {
                        "time": {"type": "number"},
                        "kind": {"type": "string", "enum": [
                            "transaction", "block", "header", "message", "peer"]},
                        "source": {"type": "string", "description": "wallet, rest, miner or "
                                   "the peer's URL"},
                        "id": {"type": ["string", "null"], "description": "txid or block hash"},
                        "code": {"type": "string"},
                        "explanation": {"type": "string", "description": "the rule, in words"},
                        "reason": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                        "value": {"type": ["string", "null"]},
                        "expected": {"type": ["string", "null"]},
                        "peer": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
    "SubmitTx": {
        "type": "object",
        "required": ["tx"],
        "properties": {
            "tx": {"type": "string", "description": "hex of the canonical signed transaction"}
        },
    },
    "Submitted": {
        "type": "object",
        "properties": {"txid": _HEX64, "status": {"type": "string", "enum": ["pending"]}},
    },
}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/status": {"get": {"summary": "Node status", "responses": _ok("Status")}},
        "/api/supply": {
            "get": {
                "summary": "Issued subsidy, sum of balances and unclaimed coins at the tip",
                "responses": _ok("Supply"),
            }
        },
        "/api/blocks": {
            "get": {
                "summary": "Summaries of active-chain blocks from a height, ascending",
                "parameters": [
                    _query("from", "first height (default: the latest `count`)"),
                    _query("count", "how many, 1-100 (default 20)"),
                ],
                "responses": {**_ok("BlockPage"), **_errors(400)},
            }
        },
        "/api/blocks/{ref}": {
            "get": {
                "summary": "One block with its transactions, by hash or active-chain height",
                "parameters": [_path("ref", "block hash (64 hex) or height")],
                "responses": {**_ok("Block"), **_errors(400, 404)},
            }
        },
        "/api/headers": {
            "get": {
                "summary": "Raw 80-byte headers of the active chain from a height",
                "parameters": [
                    _query("from", "first height (default 0)"),
                    _query("count", "how many, 1-500 (default 100)"),
                ],
                "responses": {**_ok("HeaderPage"), **_errors(400)},
            }
        },
        "/api/txs/{txid}": {
            "get": {
                "summary": "A transaction with its block, confirmations and Merkle proof",
                "parameters": [_path("txid", "64 hex digits")],
                "responses": {**_ok("TxInfo"), **_errors(400, 404)},
            }
        },
        "/api/txs/{txid}/life": {
            "get": {
                "summary": "What happened to a transaction this node met, with times",
                "parameters": [_path("txid", "64 hex digits")],
                "responses": {**_ok("TxLife"), **_errors(400, 404)},
            }
        },
        "/api/rejections": {
            "get": {
                "summary": "The latest refused transactions, blocks, headers and peer messages",
                "parameters": [_query("limit", "at most this many, 1-500 (default 50)")],
                "responses": {**_ok("Rejections"), **_errors(400)},
            }
        },
        "/api/txs": {
            "post": {
                "summary": "Submit a signed transaction to the mempool (relayed to peers)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/SubmitTx"}}
                    },
                },
                "responses": {**_ok("Submitted", "202"), **_errors(400, 413, 422, 503)},
            }
        },
        "/api/addresses/{address}": {
            "get": {
                "summary": "Balance, nonce, pending change and history of an address",
                "parameters": [
                    _path("address", "checksummed address"),
                    _query("limit", "history entries, 1-100 (default 50)"),
                    _query("before", "only history below this height"),
                ],
                "responses": {**_ok("Account"), **_errors(400)},
            }
        },
        "/api/mempool": {
            "get": {
                "summary": "Pending transactions, oldest arrival first",
                "parameters": [_query("limit", "at most this many (default 1000)")],
                "responses": {**_ok("Mempool"), **_errors(400)},
            }
        },
        "/api/peers": {"get": {"summary": "Connected peers and bans", "responses": _ok("Peers")}},
        "/api/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{_pkg} node API",
            "version": __version__,
            "description": "Read-only node data plus submission of signed transactions. "
            'Errors are JSON: {"error": {"code", "message"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": {
                "Error": {
                    "description": "Error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
        },
    }
