"""Block import throughput against the machine's raw Ed25519 verification rate.

Figures (each beside its raw limit, measured in this same run):
  cold   tx/s importing 1000-tx blocks into a fresh Ledger (no signature cached),
         pinned to one core and on all of them, vs raw libsodium (PyNaCl)
         verification of the same txs on one core, two ways:
           queued      all blocks queued at once (Ledger.queue_block), as a sync
                       queues the blocks it downloads: the workers check the next
                       block's signatures while the writer connects this one
                       (aim: 1 core >= 0.8x; all cores >= 1.5x the 1-core import)
           one by one  each block awaited before the next is submitted, as a block
                       relayed at the tip arrives: nothing to overlap across blocks
  warm   tx/s importing the same blocks into a Ledger whose mempool already
         holds the txs (signatures cached)                      (aim >= 3x raw)
  empty  empty blocks/s through Ledger.submit_block             (aim >= 2,000)

On more than one core the ledger's signature workers are started before the clock,
as in a node that has checked one big round before: starting them (about 80 ms)
is not import time. Pinned to one core the ledger starts none.

With --db both (or a postgresql:// DSN) every figure is measured on SQLite and on
PostgreSQL in the same run and printed side by side, with PostgreSQL's ratio to
SQLite (see bench/_db.py).

Usage: python bench/import.py [--blocks 5] [--empty 2000] [--db sqlite|both|DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import _repo  # noqa: F401  (the repository root on sys.path)
from _db import DB_HELP, SQLITE, Backend, backends, ratio, side_by_side
from _nodes import raw_verify_rate
from Crypto.Signature import eddsa

from tests.builders import block_on
from tuichain.core.block import Block, BlockHeader
from tuichain.core.chainstate import ImportResult
from tuichain.core.genesis import genesis_block
from tuichain.core.keys import PrivateKey
from tuichain.core.ledger import Ledger
from tuichain.core.params import REGTEST
from tuichain.core.tx import Transaction

PARAMS = REGTEST
TXS_PER_BLOCK = 1000
SENDERS = 50
MINER = bytes([0xEE]) * 20


def mine(parent: BlockHeader, height: int, txs: list[Transaction], to: bytes = MINER) -> Block:
    return block_on(PARAMS, parent, height, txs, time=parent.time + 1, miner=to)


def build_chain(blocks: int) -> tuple[list[Block], list[Block]]:
    """(funding blocks, blocks of TXS_PER_BLOCK payments). Signing reuses one signer
    per key: importing the key for every signature would double the build time."""
    keys = [PrivateKey(hashlib.sha256(b"bench-%d" % i).digest()) for i in range(SENDERS)]
    signers = [eddsa.new(eddsa.import_private_key(k.seed), "rfc8032") for k in keys]
    pubs = [k.public_key for k in keys]
    addrs = [k.address_digest for k in keys]
    parent = genesis_block(PARAMS).header
    funding: list[Block] = []
    for i in range(SENDERS):
        block = mine(parent, i + 1, [], to=addrs[i])
        funding.append(block)
        parent = block.header
    nonces = [0] * SENDERS
    payments: list[Block] = []
    per_sender = TXS_PER_BLOCK // SENDERS
    for b in range(blocks):
        txs = []
        for s in range(SENDERS):
            for _ in range(per_sender):
                unsigned = Transaction(
                    PARAMS.network_id, pubs[s], addrs[(s + 1) % SENDERS], 1000, 10, nonces[s]
                )
                sig = bytes(signers[s].sign(unsigned.signing_digest()))
                txs.append(
                    Transaction(
                        unsigned.network_id,
                        unsigned.sender,
                        unsigned.recipient,
                        unsigned.amount,
                        unsigned.fee,
                        unsigned.nonce,
                        b"",
                        sig,
                    )
                )
                nonces[s] += 1
        block = mine(parent, SENDERS + b + 1, txs)
        payments.append(block)
        parent = block.header
    return funding, payments


def pycryptodome_verify_rate(txs: list[Transaction]) -> float:
    """For comparison: the verifier the node used before libsodium."""
    items = [(t.sender, t.signing_digest(), t.signature) for t in txs[:2000]]
    start = time.perf_counter()
    for pub, digest, sig in items:
        eddsa.new(eddsa.import_public_key(pub), "rfc8032").verify(digest, sig)
    return len(items) / (time.perf_counter() - start)


async def import_blocks(ledger: Ledger, blocks: list[Block]) -> float:
    """Seconds to import `blocks` one by one, each awaited before the next."""
    start = time.perf_counter()
    for block in blocks:
        check(await ledger.submit_block(block))
    return time.perf_counter() - start


async def import_queued(ledger: Ledger, blocks: list[Block]) -> float:
    """Seconds to import `blocks` all queued at once, as a sync queues its downloads."""
    start = time.perf_counter()
    for result in [ledger.queue_block(block) for block in blocks]:
        check(await result)
    return time.perf_counter() - start


def check(res: ImportResult) -> None:
    if res.status != "connected":
        raise SystemExit(f"import failed: {res.status} {res.error}")


def fresh(blocks: list[Block]) -> list[Block]:
    """Undo the caches a Block carries (txids, encodings): a node gets bytes off the wire."""
    return [Block.decode(b.encoded) for b in blocks]


async def open_ledger(d: str, db: str | None) -> Ledger:
    ledger = await Ledger.open(Path(d), PARAMS, database=db)
    await ledger.sigpool.started()  # as a node starts them: not in the import's time
    return ledger


async def run(n_blocks: int, n_empty: int, backend: Backend) -> dict[str, float]:
    t0 = time.perf_counter()
    funding, payments = build_chain(n_blocks)
    build_s = time.perf_counter() - t0
    txs = [t for b in payments for t in b.txs[1:]]
    n_tx = len(txs)
    print(f"[{backend.name}] built {n_blocks} blocks of {TXS_PER_BLOCK} txs in {build_s:.1f} s")

    # The machine is shared: alternate raw verification and cold import, best of 3 each.
    # The cold import runs on every core, and pinned to one: a thread inherits its
    # creator's affinity, so pinning this thread before the ledger opens pins them all.
    raws: list[float] = []
    cores = os.sched_getaffinity(0)
    ways = {"queued": import_queued, "one by one": import_blocks}
    # (way, pinned to one core) -> tx/s of each run
    colds: dict[tuple[str, bool], list[float]] = {(w, one): [] for w in ways
                                                  for one in (False, True)}

    async def cold_import(importer: Callable[[Ledger, list[Block]], Awaitable[float]]
                          ) -> float:
        with tempfile.TemporaryDirectory() as d, backend.fresh() as db:
            ledger = await open_ledger(d, db)
            await import_blocks(ledger, funding)
            rate = n_tx / await importer(ledger, fresh(payments))
            await ledger.close()
        return rate

    for _ in range(3):
        raws.append(raw_verify_rate(txs))
        for way, importer in ways.items():
            colds[way, False].append(await cold_import(importer))
            os.sched_setaffinity(0, {min(cores)})
            try:
                colds[way, True].append(await cold_import(importer))
            finally:
                os.sched_setaffinity(0, cores)
    raw = max(raws)
    best = {key: max(rates) for key, rates in colds.items()}
    pycryptodome = pycryptodome_verify_rate(txs)
    print(f"raw Ed25519 verify (libsodium):           {raw:9.0f} sig/s   (best of 3)")
    print(f"raw Ed25519 verify (pycryptodome):        {pycryptodome:9.0f} sig/s   (for comparison)")
    for way in ways:
        aims = way == "queued"
        one, cold = best[way, True], best[way, False]
        label = f"cold import, {way}, 1 core (pinned):"
        print(f"{label:<42}{one:9.0f} tx/s   "
              f"{one / raw:5.2f}x raw verify" + ("  (aim >= 0.8x; best of 3)" if aims else ""))
        label = f"cold import, {way}, {len(cores)} cores:"
        print(f"{label:<42}{cold:9.0f} tx/s   "
              f"{cold / raw:5.2f}x raw verify, {cold / one:4.2f}x the 1-core import"
              + ("  (aim >= 1.5x)" if aims else ""))
    cold, one = best["queued", False], best["queued", True]
    serial, serial_one = best["one by one", False], best["one by one", True]

    with tempfile.TemporaryDirectory() as d, backend.fresh() as db:
        ledger = await open_ledger(d, db)
        await import_blocks(ledger, funding)
        t = time.perf_counter()
        for tx in [tx for b in fresh(payments) for tx in b.txs[1:]]:
            await ledger.submit_tx(tx)
        admit = n_tx / (time.perf_counter() - t)
        warm_s = await import_blocks(ledger, fresh(payments))
        hits, misses = ledger.sigcache.hits, ledger.sigcache.misses
        await ledger.close()
    warm = n_tx / warm_s
    print(f"{'mempool admission:':<42}{admit:9.0f} tx/s   {admit / raw:5.2f}x raw verify")
    print(
        f"{'warm import (sigs cached):':<42}{warm:9.0f} tx/s   {warm / raw:5.2f}x raw verify"
        f"  (aim >= 3x)  cache hits {hits} misses {misses}"
    )

    parent = genesis_block(PARAMS).header
    empties = []
    for h in range(1, n_empty + 1):
        block = mine(parent, h, [])
        empties.append(block)
        parent = block.header
    with tempfile.TemporaryDirectory() as d, backend.fresh() as db:
        ledger = await open_ledger(d, db)
        empty_s = await import_blocks(ledger, fresh(empties))
        await ledger.close()
    empty = n_empty / empty_s
    print(f"empty blocks (Ledger.submit_block):       {empty:9.0f} blocks/s  (aim >= 2000)")
    return {
        "txs": n_tx,
        "raw_verify_per_s": round(raw),
        "pycryptodome_verify_per_s": round(pycryptodome),
        "mempool_admit_vs_raw": round(admit / raw, 3),
        "cold_tx_per_s": round(cold),
        "cold_vs_raw": round(cold / raw, 3),
        "cold_1core_tx_per_s": round(one),
        "cold_1core_vs_raw": round(one / raw, 3),
        "cores": len(cores),
        "cold_vs_1core_import": round(cold / one, 3),
        "cold_one_by_one_tx_per_s": round(serial),
        "cold_one_by_one_vs_raw": round(serial / raw, 3),
        "cold_one_by_one_1core_tx_per_s": round(serial_one),
        "cold_one_by_one_1core_vs_raw": round(serial_one / raw, 3),
        "cold_one_by_one_vs_1core_import": round(serial / serial_one, 3),
        "warm_tx_per_s": round(warm),
        "warm_vs_raw": round(warm / raw, 3),
        "mempool_admit_tx_per_s": round(admit),
        "empty_blocks_per_s": round(empty),
        "empty_vs_aim": round(empty / 2000, 3),
        "build_s": round(build_s, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--empty", type=int, default=2000)
    ap.add_argument("--db", default=SQLITE, help=DB_HELP)
    args = ap.parse_args()
    with backends(args.db) as chosen:
        results = {b.name: asyncio.run(run(args.blocks, args.empty, b)) for b in chosen}
    if len(results) == 1:
        print(json.dumps(results[SQLITE]))
        return
    names = list(results)
    print()
    side_by_side(
        [
            (label, unit, {n: results[n][key] for n in names})
            for label, unit, key in (
                ("cold import", "tx/s", "cold_tx_per_s"),
                ("warm import", "tx/s", "warm_tx_per_s"),
                ("mempool admission", "tx/s", "mempool_admit_tx_per_s"),
                ("empty blocks", "blocks/s", "empty_blocks_per_s"),
            )
        ],
        names,
    )
    out: dict[str, object] = dict(results)
    out["postgresql_vs_sqlite"] = {
        key: round(ratio(results[names[1]][key], results[SQLITE][key]), 3)
        for key in ("cold_tx_per_s", "warm_tx_per_s", "mempool_admit_tx_per_s",
                    "empty_blocks_per_s")
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
