"""A fresh node syncs a long regtest chain full of payments from one peer.

The chain (default 100,000 blocks, 1,000,000 payments between 10,000 accounts) is built
straight into the serving node's chain.sqlite3 with ChainState (far faster than over the
wire), then two headless node processes run on 127.0.0.1: the server, and a fresh node
with `--peer` pointing at it. Figures, each beside the machine's limit measured in this run:

  sync       blocks/s and tx/s from the fresh node's first /api/status to its tip, against
             raw libsodium verify of the same signatures on 1 core and on 2 (two processes)
  memory     the syncing process's peak RSS (VmHWM), aim <= 200 MB; beside it its
             signature workers' (processes of their own)
  disk       the synced node's database bytes per transaction
  balance    GET /api/addresses/<a> on the synced node against the same read on a node
             holding the first 100 blocks of the same chain (aim: within 1.2x)

Usage: python bench/scale_sync.py [--blocks 100000] [--txs 1000000] [--accounts 10000]
                                  [--chain-cache DIR]
       (develop with e.g. --blocks 2000 --txs 20000 --accounts 500)

With --chain-cache the served chain is built into DIR once and used again by later
runs of the same sizes (building the full chain takes minutes); the syncing node
always starts from an empty directory.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import _repo  # noqa: F401  (the repository root on sys.path)
import aiohttp
from _nodes import (
    NodeProcess,
    children_running,
    dir_bytes,
    free_port,
    peak_rss_mib,
    raw_verify_rates,
    signed,
)
from nacl.bindings import crypto_sign_seed_keypair

from tests.builders import block_on, open_chain
from tuichain.core.block import Block
from tuichain.core.genesis import genesis_block
from tuichain.core.keys import address_digest, encode_address
from tuichain.core.params import REGTEST
from tuichain.core.tx import Transaction

PARAMS = REGTEST
FUNDER_SEED = hashlib.sha256(b"scale-sync-funder").digest()
FUNDS_PER_BLOCK = 500  # funding payments per block (the funder's nonces in order)
AMOUNT, FEE = 1_000, 1_000
BALANCE_AT = 100  # the early height the balance read is compared with


def chain_blocks(n_blocks: int, n_txs: int, n_accounts: int,
                 sample: list[Transaction]) -> Iterator[Block]:
    """Block 1 pays its coinbase to a funder; the next blocks fund every account from it;
    the rest carry `n_txs` payments spread evenly, senders round-robin, receivers random.
    The first 10,000 payments are also put in `sample` (for the raw verify figure)."""
    rng = random.Random(14)
    funder_pub, funder_secret = crypto_sign_seed_keypair(FUNDER_SEED)
    keys = [crypto_sign_seed_keypair(hashlib.sha256(b"scale-sync-%d" % i).digest())
            for i in range(n_accounts)]
    digests = [address_digest(pub) for pub, _ in keys]
    per_account = -(-n_txs // n_accounts) * (AMOUNT + FEE)
    if per_account * n_accounts + n_accounts * FEE > PARAMS.initial_subsidy:
        raise SystemExit("the funder's 50 coins cannot fund that many payments")
    funding_blocks = -(-n_accounts // FUNDS_PER_BLOCK)
    paying_blocks = n_blocks - 1 - funding_blocks
    if paying_blocks < 1:
        raise SystemExit(f"--blocks must exceed {1 + funding_blocks} to fund {n_accounts} accounts")
    parent = genesis_block(PARAMS).header
    height = 0

    def next_block(txs: list[Transaction], miner: bytes) -> Block:
        nonlocal parent, height
        height += 1
        block = block_on(PARAMS, parent, height, txs, time=parent.time + 1, miner=miner)
        parent = block.header
        return block

    yield next_block([], address_digest(funder_pub))
    for first in range(0, n_accounts, FUNDS_PER_BLOCK):
        yield next_block([
            signed(Transaction(PARAMS.network_id, funder_pub, digests[i], per_account, FEE, i),
                   funder_secret)
            for i in range(first, min(first + FUNDS_PER_BLOCK, n_accounts))
        ], digests[0])
    nonces = [0] * n_accounts
    made = 0
    for b in range(paying_blocks):
        upto = n_txs * (b + 1) // paying_blocks
        txs = []
        while made < upto:
            s = made % n_accounts
            pub, secret = keys[s]
            to = digests[rng.randrange(n_accounts)]
            txs.append(signed(Transaction(PARAMS.network_id, pub, to, AMOUNT, FEE, nonces[s]),
                              secret))
            nonces[s] += 1
            made += 1
        if len(sample) < 10_000:
            sample.extend(txs[: 10_000 - len(sample)])
        yield next_block(txs, digests[b % n_accounts])


BUILD_BATCH = 256


def build(server_dir: Path, early_dir: Path, n_blocks: int, n_txs: int, n_accounts: int,
          sample: list[Transaction]) -> int:
    """Import the chain into server_dir's chain.sqlite3, copying it to early_dir at height
    BALANCE_AT; return the chain's encoded bytes."""
    chain = open_chain(server_dir, PARAMS)
    encoded = 0
    start = last = time.perf_counter()
    batch: list[Block] = []

    def flush() -> None:
        # In batches past BALANCE_AT, as a sync imports them: one SQL transaction each.
        for result, _ in chain.process_blocks([(b, True, None) for b in batch],
                                              now=batch[-1].header.time):
            assert result.status == "connected", (result.status, result.error)
        batch.clear()

    try:
        for block in chain_blocks(n_blocks, n_txs, n_accounts, sample):
            encoded += block.size
            batch.append(block)
            if chain.tip.height + len(batch) > BALANCE_AT and len(batch) < BUILD_BATCH \
                    and chain.tip.height + len(batch) < n_blocks:
                continue
            flush()
            height = chain.tip.height
            if height == BALANCE_AT:
                early_dir.mkdir(parents=True)
                with sqlite3.connect(early_dir / "chain.sqlite3") as dst:
                    src = sqlite3.connect(server_dir / "chain.sqlite3")
                    src.backup(dst)
                    src.close()
            if time.perf_counter() - last > 5:
                last = time.perf_counter()
                print(f"  building: height {height:,} of {n_blocks:,} "
                      f"({height / (last - start):,.0f} blocks/s)", flush=True)
    finally:
        chain.store.close()
    return encoded


async def balance_reads_ms(session: aiohttp.ClientSession, nodes: list[NodeProcess],
                           address: str, rounds: int = 10, reads: int = 20) -> list[float]:
    """Median milliseconds of GET /api/addresses/<address>?limit=1 (balance, nonce and
    the latest history entry) on each node, the nodes read in turn, a round at a time:
    the machine's load drifts, and reading one node after the other put the drift
    between them."""
    times: list[list[float]] = [[] for _ in nodes]
    for node in nodes:
        await node.get(session, f"/api/addresses/{address}?limit=1")  # warm
    for _ in range(rounds):
        for node, taken in zip(nodes, times, strict=True):
            for _ in range(reads):
                start = time.perf_counter()
                await node.get(session, f"/api/addresses/{address}?limit=1")
                taken.append((time.perf_counter() - start) * 1000)
    return [statistics.median(taken) for taken in times]


def cached_build(cache: Path, n_blocks: int, n_txs: int, n_accounts: int,
                 sample: list[Transaction]) -> tuple[Path, Path, int]:
    """The server's and the early node's directories in `cache`, built there unless a
    finished build of these sizes is there already; and the chain's encoded bytes."""
    sizes = f"{n_blocks} {n_txs} {n_accounts}"
    done, samples = cache / "built", cache / "sample.bin"
    server_dir, early_dir = cache / "server", cache / "early"
    if done.exists() and done.read_text().split("\n")[0] == sizes:
        data = samples.read_bytes()
        at = 0
        while at < len(data):
            size = int.from_bytes(data[at:at + 4], "little")
            sample.append(Transaction.decode(data[at + 4:at + 4 + size]))
            at += 4 + size
        print(f"using the chain built in {cache}")
        return server_dir, early_dir, int(done.read_text().split("\n")[1])
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    encoded = build(server_dir, early_dir, n_blocks, n_txs, n_accounts, sample)
    samples.write_bytes(b"".join(len(tx.encoded).to_bytes(4, "little") + tx.encoded
                                 for tx in sample))
    done.write_text(f"{sizes}\n{encoded}\n")  # last: a build cut short is built again
    return server_dir, early_dir, encoded


async def run(n_blocks: int, n_txs: int, n_accounts: int, work: Path,
              cache: Path | None = None) -> dict[str, object]:
    server_dir, fresh_dir, early_dir = work / "server", work / "fresh", work / "early"
    sample: list[Transaction] = []
    t0 = time.perf_counter()
    if cache is None:
        encoded = build(server_dir, early_dir, n_blocks, n_txs, n_accounts, sample)
    else:
        built_dirs = cached_build(cache, n_blocks, n_txs, n_accounts, sample)
        # Served from copies: a node opening the file may write to it (its log, meta).
        server_dir, early_dir = work / "server", work / "early"
        for built, copy in zip(built_dirs[:2], (server_dir, early_dir), strict=True):
            shutil.copytree(built, copy)
        encoded = built_dirs[2]
    # The build and the copies leave a gigabyte of dirty pages for the kernel to write
    # back: written out now, so the sync's own writes do not queue behind them (a first
    # run measured the sync at 61-78 blocks/s against 292 with the chain built before).
    os.sync()
    all_txs = n_txs + n_accounts  # payments plus the funding payments (coinbases apart)
    print(f"built {n_blocks:,} blocks, {all_txs:,} payments ({encoded / 1e6:,.1f} MB encoded) "
          f"into the server's database in {time.perf_counter() - t0:,.1f} s")
    raw1, raw2 = raw_verify_rates(sample)
    print(f"raw Ed25519 verify (libsodium): {raw1:,.0f} sig/s on 1 core, "
          f"{raw2:,.0f} sig/s on 2 (two processes)")
    address = encode_address(PARAMS.hrp, address_digest(sample[0].sender))
    timeout = aiohttp.ClientTimeout(total=60)
    server = NodeProcess.headless(server_dir, free_port())
    fresh: NodeProcess | None = None
    early: NodeProcess | None = None
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            status = await server.wait_up(session)
            assert status["height"] == n_blocks, status
            fresh = NodeProcess.headless(fresh_dir, free_port(), [server.url])
            await fresh.wait_up(session)
            start = last = time.perf_counter()  # process start-up is not sync time
            height = 0
            while height < n_blocks:
                await asyncio.sleep(0.05)
                height = (await fresh.get(session, "/api/status"))["height"]
                if time.perf_counter() - last > 3:
                    last = time.perf_counter()
                    print(f"  syncing: height {height:,} of {n_blocks:,} "
                          f"({height / (last - start):,.0f} blocks/s)", flush=True)
            sync_s = time.perf_counter() - start
            rss = peak_rss_mib(fresh.pid)
            workers = [peak_rss_mib(pid)
                       for pid in children_running(fresh.pid, "tuichain.core.sigworker")]
            served = (await server.get(session, "/api/status"))["tip"]
            synced = (await fresh.get(session, "/api/status"))["tip"]
            assert synced == served, (synced, served)  # the same chain, not just as long
            early = NodeProcess.headless(early_dir, free_port())
            status = await early.wait_up(session)
            assert status["height"] == BALANCE_AT, status
            late_ms, early_ms = await balance_reads_ms(session, [fresh, early], address)
        finally:
            for node in (early, fresh, server):
                if node is not None:
                    node.stop()
    db = dir_bytes(fresh_dir)
    blocks_s = n_blocks / sync_s
    tx_s = all_txs / sync_s
    print(f"sync from zero: {sync_s:,.1f} s, {blocks_s:,.0f} blocks/s, {tx_s:,.0f} tx/s  "
          f"({tx_s / raw1:.2f}x raw verify on 1 core, {tx_s / raw2:.2f}x on 2)")
    print(f"syncing node's peak RSS: {rss:,.1f} MiB (aim <= 200 MB); its {len(workers)} "
          f"signature worker(s): {sum(workers):,.1f} MiB together")
    print(f"database: {db / 1e6:,.1f} MB, {db / all_txs:,.0f} bytes a payment "
          f"(encoded {encoded / all_txs:,.0f})")
    print(f"balance read: {late_ms:.2f} ms at height {n_blocks:,}, {early_ms:.2f} ms at height "
          f"{BALANCE_AT} (ratio {late_ms / early_ms:.2f}, aim <= 1.2)")
    return {
        "blocks": n_blocks, "payments": all_txs, "accounts": n_accounts,
        "raw_verify_1core_per_s": round(raw1), "raw_verify_2core_per_s": round(raw2),
        "sync_s": round(sync_s, 2), "sync_blocks_per_s": round(blocks_s, 1),
        "sync_tx_per_s": round(tx_s), "sync_vs_raw_1core": round(tx_s / raw1, 3),
        "sync_vs_raw_2core": round(tx_s / raw2, 3),
        "peak_rss_mib": round(rss, 1), "sig_workers": len(workers),
        "sig_workers_peak_rss_mib": round(sum(workers), 1), "db_bytes": db,
        "db_bytes_per_tx": round(db / all_txs, 1),
        "encoded_bytes_per_tx": round(encoded / all_txs, 1),
        "balance_read_ms": round(late_ms, 3), f"balance_read_ms_h{BALANCE_AT}": round(early_ms, 3),
        "balance_read_ratio": round(late_ms / early_ms, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=100_000)
    ap.add_argument("--txs", type=int, default=1_000_000)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--chain-cache", type=Path, default=None,
                    help="build the served chain here once and use it again on later runs")
    args = ap.parse_args()
    if args.blocks <= BALANCE_AT:
        raise SystemExit(f"--blocks must exceed {BALANCE_AT}")
    work = Path(tempfile.mkdtemp(prefix="tuichain-bench-scale-sync-"))
    try:
        print(json.dumps(asyncio.run(run(args.blocks, args.txs, args.accounts, work,
                                         args.chain_cache))))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
