"""Sync benchmark: a fresh node catches up N regtest blocks from a peer over loopback.

Figures, each beside the machine's own limit measured in the same run:
- blocks/s over the network against importing the same blocks into a fresh
  Ledger directly (aim >= 0.85);
- bytes on the wire per block (websocket frames both ways, handshake included)
  against the blocks' encoded size (aim <= 1.2);
- bytes to catch up one block at height 100 and at height 10,000 (aim: equal);
- catch-up from zero: a fresh node syncing a chain of 200, 2,000 and 20,000 blocks
  (empty by default, as the original app's comparison), time and blocks/s from connect
  to tip, beside the time of the same import into a local Ledger (aim at 2,000: at least
  as fast as the original app, about 45 ms here).

Usage: python bench/sync.py [--blocks 2000] [--txs 3] [--deep 10000]
                            [--catch-up 200,2000,20000] [--catch-up-txs 0] [--catch-up-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

import _repo  # noqa: F401  (the repository root on sys.path)
import aiohttp
from _nodes import NodeProcess, free_port

from tests.builders import block_on
from tuichain.config import NodeConfig
from tuichain.core.block import Block
from tuichain.core.genesis import genesis_block
from tuichain.core.keys import PrivateKey, address_digest
from tuichain.core.ledger import Ledger
from tuichain.core.params import COIN, REGTEST
from tuichain.core.tx import Transaction, make_payment
from tuichain.node import Node

MINER = bytes([0xAB]) * 20


def build_chain(n: int, txs_per_block: int) -> list[Block]:
    """Blocks 1..n: block 1 funds a key, later blocks carry `txs_per_block` payments each."""
    key = PrivateKey(bytes(range(32)))
    funder = address_digest(key.public_key)
    parent = genesis_block(REGTEST).header
    blocks: list[Block] = []
    nonce = 0
    for height in range(1, n + 1):
        txs: list[Transaction] = []
        if height > 1:
            for _ in range(txs_per_block):
                txs.append(
                    make_payment(
                        key,
                        REGTEST.network_id,
                        bytes([nonce % 250 + 1]) * 20,
                        COIN // 1000,
                        1_000,
                        nonce,
                    )
                )
                nonce += 1
        to = funder if height == 1 else MINER
        block = block_on(REGTEST, parent, height, txs, time=parent.time + 1, miner=to)
        blocks.append(block)
        parent = block.header
    return blocks


async def import_blocks(data_dir: Path, blocks: list[Block]) -> float:
    """Import straight into a Ledger; return seconds taken."""
    ledger = await Ledger.open(data_dir, REGTEST)
    try:
        start = time.perf_counter()
        for b in blocks:
            result = await ledger.submit_block(b, "bench")
            assert result.status == "connected", result
        return time.perf_counter() - start
    finally:
        await ledger.close()


def config(data_dir: Path, peers: list[str] | None = None) -> NodeConfig:
    return NodeConfig(
        port=0, data_dir=data_dir, network=REGTEST, peers=peers or [], target_outbound=0
    )


async def sync_from(
    source_dir: Path, fresh_dir: Path, height: int, base: int = 0
) -> tuple[float, int]:
    """Start a node on source_dir and one on fresh_dir linked to it; wait until the second
    reaches `height`. Return (seconds, wire bytes both ways on the second node)."""
    a = Node(config(source_dir))
    await a.start()
    b = Node(config(fresh_dir))
    try:
        await b.start()
        start = time.perf_counter()  # node start-up (miner processes) is not sync time
        await b.net.connect(a.listen_url)
        while b.ledger.tip is None or b.ledger.tip.height < height:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - start
        wire = sum(p.bytes_received + p.bytes_sent for p in b.net.peer_infos())
        assert b.net.stats.blocks_received == height - base, b.net.stats
        return elapsed, wire
    finally:
        await b.stop()
        await a.stop()


async def sync_from_process(source_dir: Path, fresh_dir: Path, height: int) -> float:
    """As sync_from, with the source node a headless process of its own, as a real
    peer is (so the two nodes do not share one interpreter's lock): seconds from connect
    until the fresh node's tip reaches `height`."""
    port = free_port()
    source = NodeProcess.headless(source_dir, port)
    b = Node(config(fresh_dir))
    try:
        async with aiohttp.ClientSession() as session:
            await source.wait_up(session)
        await b.start()
        start = time.perf_counter()
        await b.net.connect(source.url)
        while b.ledger.tip is None or b.ledger.tip.height < height:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        return time.perf_counter() - start
    finally:
        await b.stop()
        source.stop()


async def catch_up_one(work: Path, blocks: list[Block], height: int, tag: str) -> int:
    """Bytes a node at `height` spends to fetch block height+1 from a peer."""
    behind = work / f"behind-{tag}"
    ahead = work / f"ahead-{tag}"
    await import_blocks(behind, blocks[:height])
    shutil.copytree(behind, ahead)
    await import_blocks(ahead, blocks[height : height + 1])
    _, wire = await sync_from(ahead, behind, height + 1, base=height)
    return wire


async def announced_one(work: Path, blocks: list[Block], height: int, tag: str) -> int:
    """Bytes a connected node at `height` spends when its peer announces block height+1."""
    base = work / f"both-{tag}"
    await import_blocks(base, blocks[:height])
    other = work / f"both2-{tag}"
    shutil.copytree(base, other)
    a = Node(config(base))
    b = Node(config(other))
    await a.start()
    try:
        await b.start()
        await b.net.connect(a.listen_url)
        while not a.net.peer_infos():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)  # let the handshake's own traffic settle
        before = sum(p.bytes_received + p.bytes_sent for p in b.net.peer_infos())
        await a.ledger.submit_block(blocks[height], "bench")
        while b.ledger.tip is None or b.ledger.tip.height < height + 1:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        return sum(p.bytes_received + p.bytes_sent for p in b.net.peer_infos()) - before
    finally:
        await b.stop()
        await a.stop()


async def catch_up_from_zero(
    work: Path, heights: list[int], txs_per_block: int
) -> dict[str, dict[str, float]]:
    """For each height: seconds for a fresh node to sync that many blocks from a peer
    (connect to tip), and seconds to import the same blocks into a fresh local Ledger."""
    t0 = time.perf_counter()
    chain = build_chain(max(heights), txs_per_block)
    print(
        f"catch-up from zero: built {len(chain):,} blocks with {txs_per_block} txs each "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    out: dict[str, dict[str, float]] = {}
    for h in heights:
        local_s = await import_blocks(work / f"zero-source-{h}", chain[:h])
        net_s, _ = await sync_from(work / f"zero-source-{h}", work / f"zero-fresh-{h}", h)
        proc_s = await sync_from_process(work / f"zero-source-{h}", work / f"zero-fresh2-{h}", h)
        # The machine is shared: the faster of two local imports is the bar, as above.
        local_s = min(local_s, await import_blocks(work / f"zero-again-{h}", chain[:h]))
        print(
            f"  {h:>7,} blocks: sync {net_s * 1000:9.1f} ms ({h / net_s:7,.0f} blocks/s)   "
            f"local import {local_s * 1000:9.1f} ms ({h / local_s:7,.0f} blocks/s, best of 2)   "
            f"ratio {local_s / net_s:.2f}"
        )
        print(f"  {'':>7}         source in its own process: sync {proc_s * 1000:9.1f} ms "
              f"({h / proc_s:7,.0f} blocks/s)   ratio {local_s / proc_s:.2f}")
        out[str(h)] = {
            "sync_ms": round(net_s * 1000, 1),
            "sync_blocks_per_s": round(h / net_s, 1),
            "local_import_ms": round(local_s * 1000, 1),
            "local_import_blocks_per_s": round(h / local_s, 1),
            "sync_vs_local": round(local_s / net_s, 3),
            "sync_ms_source_process": round(proc_s * 1000, 1),
            "sync_vs_local_source_process": round(local_s / proc_s, 3),
        }
    return out


def heights_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=2000)
    ap.add_argument("--txs", type=int, default=3)
    ap.add_argument("--deep", type=int, default=10_000)
    ap.add_argument("--catch-up", type=heights_list, default=[200, 2000, 20_000],
                    help="heights for the catch-up-from-zero figures, comma-separated "
                         "('' for none)")
    ap.add_argument("--catch-up-txs", type=int, default=0,
                    help="payments per block in the catch-up chains")
    ap.add_argument("--catch-up-only", action="store_true",
                    help="print only the catch-up-from-zero figures")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tuichain-bench-sync-"))
    try:
        zero = (
            await catch_up_from_zero(work, args.catch_up, args.catch_up_txs)
            if args.catch_up else {}
        )
        if args.catch_up_only:
            print(json.dumps({"catch_up_txs_per_block": args.catch_up_txs, "catch_up": zero}))
            return
        t0 = time.perf_counter()
        blocks = build_chain(args.blocks, args.txs)
        print(
            f"built {len(blocks)} blocks with {args.txs} txs each "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        local_s = await import_blocks(work / "source", blocks)
        net_s, wire = await sync_from(work / "source", work / "fresh", len(blocks))
        # A second local import after the sync (warm caches): the faster one is the bar.
        local_s = min(local_s, await import_blocks(work / "local-again", blocks))
        local_rate = len(blocks) / local_s
        print(f"local import into a fresh Ledger: {local_rate:,.0f} blocks/s (best of two)")
        net_rate = len(blocks) / net_s
        encoded = sum(b.size for b in blocks)
        print(
            f"network sync over loopback:       {net_rate:,.0f} blocks/s "
            f"(ratio {net_rate / local_rate:.2f}, aim >= 0.85)"
        )
        print(
            f"wire bytes per block: {wire / len(blocks):,.0f} against an encoded size of "
            f"{encoded / len(blocks):,.0f} (ratio {wire / encoded:.3f}, aim <= 1.2)"
        )

        deep = build_chain(args.deep + 1, 0)
        shallow_bytes = await catch_up_one(work, deep, 100, "100")
        deep_bytes = await catch_up_one(work, deep, args.deep, "deep")
        print(
            f"catch up one block: {shallow_bytes:,} bytes at height 100, {deep_bytes:,} bytes "
            f"at height {args.deep:,} (ratio {deep_bytes / shallow_bytes:.3f}, aim ~1)"
        )
        shallow_ann = await announced_one(work, deep, 100, "100")
        deep_ann = await announced_one(work, deep, args.deep, "deep")
        print(
            f"  (that is a fresh connection: handshake plus a block locator, which grows with\n"
            f"   log2 of the height)\n"
            f"announced to a connected peer: {shallow_ann:,} bytes at height 100, "
            f"{deep_ann:,} bytes at height {args.deep:,} "
            f"(ratio {deep_ann / shallow_ann:.3f}, aim 1)"
        )
        print(
            json.dumps(
                {
                    "blocks": len(blocks),
                    "txs_per_block": args.txs,
                    "local_import_blocks_per_s": round(local_rate, 1),
                    "sync_blocks_per_s": round(net_rate, 1),
                    "sync_vs_local": round(net_rate / local_rate, 3),
                    "wire_bytes_per_block": round(wire / len(blocks), 1),
                    "encoded_bytes_per_block": round(encoded / len(blocks), 1),
                    "wire_vs_encoded": round(wire / encoded, 3),
                    "catch_up_bytes_h100": shallow_bytes,
                    f"catch_up_bytes_h{args.deep}": deep_bytes,
                    "catch_up_ratio": round(deep_bytes / shallow_bytes, 3),
                    "announced_bytes_h100": shallow_ann,
                    f"announced_bytes_h{args.deep}": deep_ann,
                    "announced_ratio": round(deep_ann / shallow_ann, 3),
                    "catch_up_txs_per_block": args.catch_up_txs,
                    "catch_up": zero,
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
