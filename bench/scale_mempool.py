"""A mempool of 50,000 pending payments: admission rate, template build time, memory.

Figures, each beside the machine's limit measured in this same run:
  admit     tx/s filling an empty mempool with N payments, vs raw libsodium verification
            of the same signatures (one core): the first half one Ledger.submit_tx at a
            time (a wallet), the third quarter with 256 submit_tx callers awaiting their
            answers (RPC clients), the last quarter relayed as the node queues a peer's
            gossip (Ledger.queue_tx, 256 unanswered at most; the aim's figure)
  template  seconds to build a full block template from the full mempool
  full      tx/s offering the second half to a pool bounded to the first half (each
            must pay more than the cheapest pending to get in, relayed), vs filling it
  block     milliseconds to import an empty block on the full mempool, vs the same
            blocks with nothing pending
  memory    RSS growth of this process while the mempool filled, per pending tx

Usage: python bench/scale_mempool.py [--txs 50000] [--senders 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import _repo  # noqa: F401  (the repository root on sys.path)
from _nodes import raw_verify_rate
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

from tests.builders import block_on
from tuichain.core.block import Block
from tuichain.core.errors import ValidationError
from tuichain.core.events import TxAccepted
from tuichain.core.genesis import genesis_block
from tuichain.core.keys import address_digest
from tuichain.core.ledger import Ledger
from tuichain.core.params import REGTEST
from tuichain.core.policy import Policy
from tuichain.core.tx import Transaction
from tuichain.gc_pauses import freeze_imports

PARAMS = REGTEST


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def funding_blocks(pubs: list[bytes]) -> list[Block]:
    parent = genesis_block(PARAMS).header
    blocks = []
    for height, pub in enumerate(pubs, start=1):
        block = block_on(PARAMS, parent, height, [], time=parent.time + 1,
                         miner=address_digest(pub))
        blocks.append(block)
        parent = block.header
    return blocks


def payments(keys: list[tuple[bytes, bytes]], total: int) -> list[Transaction]:
    """`total` payments, round-robin over the senders, signed with libsodium (fast to build)."""
    txs = []
    nonces = [0] * len(keys)
    for i in range(total):
        s = i % len(keys)
        pub, secret = keys[s]
        to = address_digest(keys[(s + 1) % len(keys)][0])
        fee = 1_000 + (i * 7919) % 5_000  # varied fee rates, so the template has to choose
        unsigned = Transaction(PARAMS.network_id, pub, to, 10_000, fee, nonces[s])
        signature = crypto_sign(unsigned.signing_digest(), secret)[:64]
        txs.append(dataclasses.replace(unsigned, signature=signature))
        nonces[s] += 1
    return txs


async def relayed(ledger: Ledger, txs: list[Transaction], window: int,
                  refused_ok: bool = False) -> None:
    """Queue `txs` as the node queues a peer's relayed transactions (SyncEngine._on_tx):
    each handed to Ledger.queue_tx without awaiting its answer, reading on while fewer
    than `window` are unanswered."""
    out: set[asyncio.Future[Transaction]] = set()
    room = asyncio.Event()
    failures: list[BaseException] = []

    def answered(answer: asyncio.Future[Transaction]) -> None:
        out.discard(answer)
        if len(out) < window:
            room.set()
        exc = None if answer.cancelled() else answer.exception()
        if exc is not None and not (refused_ok and isinstance(exc, ValidationError)):
            failures.append(exc)

    for tx in txs:
        answer = ledger.queue_tx(tx)
        out.add(answer)
        answer.add_done_callback(answered)
        if len(out) >= window:
            room.clear()
            await room.wait()
    await asyncio.gather(*out, return_exceptions=True)
    if failures:
        raise failures[0]


async def in_flight(ledger: Ledger, txs: list[Transaction], window: int) -> None:
    """Submit `txs` keeping `window` Ledger.submit_tx calls outstanding, each its own
    task, as `window` callers awaiting their answers would (an RPC server's clients)."""
    room = asyncio.Semaphore(window)
    # Only the submissions still out are kept: a list of every finished task would be
    # this harness's garbage (four collector-tracked objects a payment), not the node's,
    # and full collections walk it.
    out: set[asyncio.Task[None]] = set()

    async def one(tx: Transaction) -> None:
        try:
            await ledger.submit_tx(tx)
        finally:
            room.release()

    for tx in txs:
        await room.acquire()
        task = asyncio.create_task(one(tx))
        out.add(task)
        task.add_done_callback(out.discard)
    await asyncio.gather(*out)


async def full_pool_admission(funding: list[Block], txs: list[Transaction], room: int,
                              policy: Policy) -> tuple[float, int]:
    """A pool bounded to `room` filled with the first `room` txs, then offered the rest
    (each must beat the cheapest to get in): seconds for the rest, and how many got in."""
    bounded = dataclasses.replace(policy, mempool_max_count=room)
    with tempfile.TemporaryDirectory() as d:
        ledger = await Ledger.open(Path(d), PARAMS, bounded)
        try:
            for block in funding:
                await ledger.submit_block(block)
            await relayed(ledger, txs[:room], 256)
            assert ledger.mempool_size == room, ledger.mempool_size
            admitted = 0

            def count(event: object) -> None:
                nonlocal admitted
                admitted += isinstance(event, TxAccepted)

            ledger.events.subscribe(count)
            start = time.perf_counter()
            await relayed(ledger, txs[room:], 256, refused_ok=True)
            seconds = time.perf_counter() - start
            assert ledger.mempool_size == room, ledger.mempool_size
        finally:
            await ledger.close()
    return seconds, admitted


EMPTY_BLOCKS = 21


async def empty_blocks_ms(ledger: Ledger) -> float:
    """Median milliseconds of Ledger.submit_block for EMPTY_BLOCKS empty blocks on the
    tip, one after another: a new block must not cost what the mempool holds."""
    times = []
    for _ in range(EMPTY_BLOCKS):
        tip = ledger.chain.tip
        block = block_on(PARAMS, tip.header, tip.height + 1, [], time=tip.header.time + 1,
                         miner=bytes(20))
        start = time.perf_counter()
        result = await ledger.submit_block(block)
        times.append(time.perf_counter() - start)
        assert result.status == "connected", result
    return statistics.median(times) * 1000


def sender_keys(n: int) -> list[tuple[bytes, bytes]]:
    """(public key, secret) of `n` senders, the same every run."""
    return [crypto_sign_seed_keypair(hashlib.sha256(b"scale-%d" % i).digest())
            for i in range(n)]


async def run(n_txs: int, n_senders: int) -> dict[str, float]:
    keys = sender_keys(n_senders)
    t0 = time.perf_counter()
    funding = funding_blocks([pub for pub, _ in keys])
    txs = payments(keys, n_txs)
    print(f"built {n_senders} funding blocks and {n_txs} payments in "
          f"{time.perf_counter() - t0:.1f} s")
    raw = max(raw_verify_rate(txs[:10_000]) for _ in range(3))
    policy = dataclasses.replace(Policy.for_network(PARAMS), mempool_max_count=n_txs * 2,
                                 mempool_max_bytes=n_txs * 1_000)
    with tempfile.TemporaryDirectory() as d:
        ledger = await Ledger.open(Path(d), PARAMS, policy)
        for block in funding:
            await ledger.submit_block(block)
        before = rss_mib()
        half = n_txs // 2
        start = time.perf_counter()
        for tx in txs[:half]:  # one at a time, as a wallet submits
            await ledger.submit_tx(tx)
        admit_one = half / (time.perf_counter() - start)
        # The second half in two quarters: callers awaiting their answers, then (into
        # the fuller pool) relayed as the node queues a peer's gossip.
        quarter = half + (n_txs - half) // 2
        start = time.perf_counter()
        await in_flight(ledger, txs[half:quarter], 256)
        admit_tasks = (quarter - half) / (time.perf_counter() - start)
        start = time.perf_counter()
        await relayed(ledger, txs[quarter:], 256)
        admit = (n_txs - quarter) / (time.perf_counter() - start)
        grown = rss_mib() - before
        assert ledger.mempool_size == n_txs, ledger.mempool_size
        start = time.perf_counter()
        template = await ledger.block_template(address_digest(keys[0][0]))
        template_s = time.perf_counter() - start
        full_ms = await empty_blocks_ms(ledger)
        await ledger.close()
    full_s, full_admitted = await full_pool_admission(funding, txs, n_txs // 2, policy)
    with tempfile.TemporaryDirectory() as d:  # the same blocks with nothing pending
        ledger = await Ledger.open(Path(d), PARAMS, policy)
        for block in funding:
            await ledger.submit_block(block)
        bare_ms = await empty_blocks_ms(ledger)
        await ledger.close()
    in_block = len(template.txs) - 1
    print(f"raw Ed25519 verify (libsodium, 1 core): {raw:9.0f} sig/s  (best of 3)")
    print(f"admission, one at a time:               {admit_one:9.0f} tx/s   "
          f"{admit_one / raw:5.2f}x raw")
    print(f"admission, 256 awaiting callers:        {admit_tasks:9.0f} tx/s   "
          f"{admit_tasks / raw:5.2f}x raw")
    print(f"admission, relayed, 256 in flight:      {admit:9.0f} tx/s   {admit / raw:5.2f}x raw")
    print(f"template from {n_txs} pending:          {template_s * 1000:9.1f} ms  "
          f"({in_block} txs, {len(template.encoded)} bytes)")
    rest = n_txs - n_txs // 2
    print(f"admission into a full pool of {n_txs // 2}: {rest / full_s:9.0f} tx/s   "
          f"{rest / full_s / admit:5.2f}x filling it  ({full_admitted} of {rest} admitted, "
          "256 in flight)")
    print(f"an empty block with {n_txs} pending:  {full_ms:9.2f} ms  "
          f"(with none pending {bare_ms:.2f} ms, {full_ms / bare_ms:.2f}x; median of "
          f"{EMPTY_BLOCKS})")
    print(f"memory: RSS grew {grown:.1f} MiB, {grown * 1024 * 1024 / n_txs:.0f} bytes a pending tx")
    return {
        "txs": n_txs,
        "senders": n_senders,
        "raw_verify_per_s": round(raw),
        "admit_one_at_a_time_tx_per_s": round(admit_one),
        "admit_one_at_a_time_vs_raw": round(admit_one / raw, 3),
        "admit_awaiting_tx_per_s": round(admit_tasks),
        "admit_awaiting_vs_raw": round(admit_tasks / raw, 3),
        "admit_tx_per_s": round(admit),
        "admit_vs_raw": round(admit / raw, 3),
        "template_ms": round(template_s * 1000, 1),
        "template_txs": in_block,
        "full_pool_admit_tx_per_s": round(rest / full_s),
        "full_pool_vs_filling": round(rest / full_s / admit, 3),
        "empty_block_ms": round(full_ms, 2),
        "empty_block_ms_none_pending": round(bare_ms, 2),
        "empty_block_vs_none_pending": round(full_ms / bare_ms, 3),
        "rss_growth_mib": round(grown, 1),
        "bytes_per_pending_tx": round(grown * 1024 * 1024 / n_txs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=50_000)
    ap.add_argument("--senders", type=int, default=1_000)
    args = ap.parse_args()
    freeze_imports()  # as `tuichain` does once everything is imported
    print(json.dumps(asyncio.run(run(args.txs, args.senders))))


if __name__ == "__main__":
    main()
