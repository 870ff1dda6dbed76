"""Relayed admission: one peer announces N payments to a node and serves them on request.

The node is a headless process of its own, funded beforehand. The peer speaks the
protocol from this process: `inv` of the txids (1,000 a message), then a `tx` for
each `getdata` item. Figure: tx/s from the first `inv` until the node's mempool holds
all N (its /api/status), beside raw libsodium verification of the same signatures on
one core, measured in this same run. This is the path a real node's admission takes:
each transaction decoded from a message, its txid looked up, admitted in batches.

Usage: python bench/relay.py [--txs 15000] [--senders 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import _repo  # noqa: F401  (the repository root on sys.path)
import aiohttp
from _nodes import NodeProcess, free_port, raw_verify_rate
from scale_mempool import PARAMS, funding_blocks, payments, sender_keys

from tests.net.test_hostile import Hostile
from tuichain.core.ledger import Ledger
from tuichain.core.tx import Transaction
from tuichain.net import protocol as p

INV_CHUNK = 1_000


async def funded(data_dir: Path, pubs: list[bytes]) -> None:
    ledger = await Ledger.open(data_dir, PARAMS)
    try:
        for block in funding_blocks(pubs):
            result = await ledger.submit_block(block)
            assert result.status == "connected", result
    finally:
        await ledger.close()


async def serve_getdata(h: Hostile, by_id: dict[bytes, Transaction]) -> None:
    assert h.ws is not None
    async for msg in h.ws:
        if msg.type != aiohttp.WSMsgType.BINARY:
            return
        if p.Cmd(msg.data[0]) == p.Cmd.GETDATA:
            for _, txid in p.decode_inv(msg.data[1:]):
                await h.ws.send_bytes(p.frame(p.Cmd.TX, by_id[txid].encoded))


async def relay(n_txs: int, n_senders: int) -> dict[str, float]:
    keys = sender_keys(n_senders)
    txs = payments(keys, n_txs)
    raw = max(raw_verify_rate(txs[:10_000]) for _ in range(3))
    work = Path(tempfile.mkdtemp(prefix="tuichain-bench-relay-"))
    node = None
    try:
        await funded(work / "node", [pub for pub, _ in keys])
        node = NodeProcess.headless(work / "node", free_port())
        async with aiohttp.ClientSession() as session:
            await node.wait_up(session)
            # The raw peer's own helpers read an in-process node; here it needs the URL only.
            h = Hostile(session, SimpleNamespace(listen_url=node.url))  # type: ignore[arg-type]
            cmd, _ = await h.connect()
            assert cmd == p.Cmd.VERACK, cmd
            by_id = {tx.txid: tx for tx in txs}
            server = asyncio.create_task(serve_getdata(h, by_id))
            start = time.perf_counter()
            for i in range(0, n_txs, INV_CHUNK):
                await h.send(p.encode_inv(p.Cmd.INV, [(p.InvType.TX, tx.txid)
                                                      for tx in txs[i:i + INV_CHUNK]]))
            while (await node.get(session, "/api/status"))["mempool"] < n_txs:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - start
            server.cancel()
    finally:
        if node is not None:
            node.stop()
        shutil.rmtree(work, ignore_errors=True)
    rate = n_txs / elapsed
    print(f"raw Ed25519 verify (libsodium, 1 core): {raw:9.0f} sig/s  (best of 3)")
    print(f"relayed by one peer (inv, getdata, tx):  {rate:9.0f} tx/s   {rate / raw:5.2f}x raw"
          f"   ({n_txs} txs in {elapsed:.2f} s)")
    return {"txs": n_txs, "senders": n_senders, "raw_verify_per_s": round(raw),
            "relay_tx_per_s": round(rate), "relay_vs_raw": round(rate / raw, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Within the default policy: 20,000 pending at most, an inv burst of 25,000 a peer.
    ap.add_argument("--txs", type=int, default=15_000)
    ap.add_argument("--senders", type=int, default=500)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(relay(args.txs, args.senders))))


if __name__ == "__main__":
    main()
