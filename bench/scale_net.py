"""N headless nodes on one machine in a seeded random graph of degree 4: how fast a
transaction and a block reach 50/90/100 % of them, what it costs each node, and whether
all converge after a run of blocks mined on random nodes.

Runs on plain loopback (127.0.0.1, no network namespaces, no added link latency), so the
figures are the nodes' own processing and scheduling on this machine's cores. Each node is
its own process (the headless node, started through a small launcher so its outbound
target is 0: it keeps exactly its graph links, and address gossip adds none). Objects
are watched through each node's REST API: /api/txs/<txid> for the transaction,
/api/status for the tip. Bytes per node per object come from /api/peers (bytes_sent of
every link, summed over nodes, over the object's propagation), and messages per node per
object from its messages_sent.

Usage: python bench/scale_net.py [--nodes 30] [--degree 4] [--blocks 20] [--seed 14]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _repo  # noqa: F401  (the repository root on sys.path)
import aiohttp
from _nodes import NodeProcess, cpu_count, free_ports, raw_verify_rates, signed
from nacl.bindings import crypto_sign_seed_keypair

from tests.builders import block_on, open_chain
from tuichain.core.genesis import genesis_block
from tuichain.core.keys import address_digest, encode_address
from tuichain.core.params import REGTEST
from tuichain.core.tx import Transaction

PARAMS = REGTEST
PAYER = crypto_sign_seed_keypair(hashlib.sha256(b"scale-net-payer").digest())
MINER_TO = encode_address(PARAMS.hrp, bytes([0x5A]) * 20)

# The headless node with target_outbound=0: it dials only its --peer links.
LAUNCHER = """
import sys
from pathlib import Path
from tuichain.cli.headless import run_headless
from tuichain.config import NodeConfig
from tuichain.core.params import REGTEST
d, port, *peers = sys.argv[1:]
sys.exit(run_headless(NodeConfig(port=int(port), data_dir=Path(d), network=REGTEST,
                                 peers=peers, target_outbound=0, use_wallet=False)))
"""


POLL_ROUNDS: list[float] = []  # seconds per polling round of each watch: the resolution


def random_regular_graph(n: int, degree: int, rng: random.Random) -> list[tuple[int, int]]:
    """Edges of a simple random graph where every node has `degree` links (pairing model,
    retried until it has no loops or double links)."""
    if n <= degree or (n * degree) % 2:
        raise SystemExit(f"no {degree}-regular graph on {n} nodes")
    for _ in range(10_000):
        stubs = [i for i in range(n) for _ in range(degree)]
        rng.shuffle(stubs)
        edges = {(min(a, b), max(a, b)) for a, b in zip(stubs[::2], stubs[1::2], strict=True)}
        if len(edges) == n * degree // 2 and all(a != b for a, b in edges):
            return sorted(edges)
    raise SystemExit("could not draw a simple regular graph")


def seed_chain(where: Path) -> None:
    """Block 1, paying the bench's payer, so a transaction has something to spend."""
    chain = open_chain(where, PARAMS)
    try:
        g = genesis_block(PARAMS).header
        block = block_on(PARAMS, g, 1, [], time=g.time + 1, miner=address_digest(PAYER[0]))
        assert chain.process_block(block, now=block.header.time).status == "connected"
    finally:
        chain.store.close()


async def total_sent(session: aiohttp.ClientSession,
                     nodes: list[NodeProcess]) -> tuple[int, int]:
    """(bytes, messages) every node has sent on all its links so far."""
    views = await asyncio.gather(*(n.get(session, "/api/peers") for n in nodes))
    links = [p for v in views for p in v["peers"]]
    return sum(p["bytes_sent"] for p in links), sum(p["messages_sent"] for p in links)


def spent_since(before: tuple[int, int], after: tuple[int, int]) -> tuple[int, int]:
    return after[0] - before[0], after[1] - before[1]


async def watch(session: aiohttp.ClientSession, nodes: list[NodeProcess], start: float,
                reached: Any, limit: float = 60.0) -> list[float]:
    """Seconds after `start` at which each node first satisfied `reached(node)` (polled);
    nodes that never did within `limit` count as infinity."""
    seen: dict[int, float] = {}
    rounds = 0
    while len(seen) < len(nodes) and time.perf_counter() - start < limit:
        rounds += 1
        pending = [i for i in range(len(nodes)) if i not in seen]
        results = await asyncio.gather(*(reached(nodes[i]) for i in pending))
        now = time.perf_counter() - start
        for i, ok in zip(pending, results, strict=True):
            if ok:
                seen[i] = now
    POLL_ROUNDS.append((time.perf_counter() - start) / max(rounds, 1))
    return sorted(seen.get(i, float("inf")) for i in range(len(nodes)))


def fractions(times: list[float]) -> dict[str, float]:
    n = len(times)
    return {f"p{pct}": times[max(0, -(-n * pct // 100) - 1)] for pct in (50, 90, 100)}


def fmt(times: dict[str, float]) -> str:
    return "  ".join(f"{k[1:]}%: {v * 1000:7.0f} ms" for k, v in times.items())


async def propagate_tx(session: aiohttp.ClientSession, nodes: list[NodeProcess],
                       origin: NodeProcess) -> tuple[dict[str, float], tuple[int, int]]:
    unsigned = Transaction(PARAMS.network_id, PAYER[0], bytes([0x77]) * 20, 1_000, 10_000, 0)
    tx = signed(unsigned, PAYER[1])

    async def has_tx(node: NodeProcess) -> bool:
        async with session.get(f"{node.url}/api/txs/{tx.txid_hex}") as r:
            return r.status == 200

    before = await total_sent(session, nodes)
    start = time.perf_counter()
    async with session.post(f"{origin.url}/api/txs", json={"tx": tx.encoded.hex()}) as r:
        assert r.status == 202, await r.text()
    times = await watch(session, nodes, start, has_tx)
    await asyncio.sleep(0.3)  # let the last announcements land before reading counters
    spent = spent_since(before, await total_sent(session, nodes))
    return fractions(times), spent


async def propagate_block(session: aiohttp.ClientSession, nodes: list[NodeProcess],
                          origin: NodeProcess, height: int,
                          ) -> tuple[dict[str, float], tuple[int, int]]:
    async def at_height(node: NodeProcess) -> bool:
        return bool((await node.get(session, "/api/status"))["height"] >= height)

    before = await total_sent(session, nodes)
    mine = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tuichain", "mine", "1", "--data-dir", str(origin.data_dir),
        "--port", str(origin.port), "--to", MINER_TO,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    # The clock starts when the origin has the block (the mine command's own start-up
    # is not propagation).
    while not await at_height(origin):
        if mine.returncode is not None and mine.returncode != 0:
            raise RuntimeError(f"mine failed: {(await mine.communicate())[1].decode()}")
        await asyncio.sleep(0.002)
    start = time.perf_counter()
    times = await watch(session, nodes, start, at_height)
    await mine.wait()
    await asyncio.sleep(0.3)
    spent = spent_since(before, await total_sent(session, nodes))
    return fractions(times), spent


async def run(n: int, degree: int, n_blocks: int, seed: int, work: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    edges = random_regular_graph(n, degree, rng)
    ports = free_ports(n)
    seed_chain(work / "seed")
    dials: dict[int, list[str]] = {i: [] for i in range(n)}
    for a, b in edges:  # the lower-numbered node dials
        dials[a].append(f"http://127.0.0.1:{ports[b]}")
    sample = [signed(Transaction(PARAMS.network_id, PAYER[0], bytes(20), 1, 1, i), PAYER[1])
              for i in range(5_000)]
    raw1, raw2 = raw_verify_rates(sample)
    print(f"plain loopback (no network namespaces, no link latency), {cpu_count()} cores, "
          f"{n} nodes, random {degree}-regular graph (seed {seed}), {len(edges)} links")
    print(f"machine limit: raw Ed25519 verify (libsodium) {raw1:,.0f}/s on 1 core, "
          f"{raw2:,.0f}/s on 2")
    nodes: list[NodeProcess] = []
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=0)) as session:
        try:
            t0 = time.perf_counter()
            for i in range(n):
                d = work / f"node{i}"
                d.mkdir()
                shutil.copy(work / "seed" / "chain.sqlite3", d / "chain.sqlite3")
                argv = [sys.executable, "-c", LAUNCHER, str(d), str(ports[i]), *dials[i]]
                nodes.append(NodeProcess(argv, d, ports[i]))
            await asyncio.gather(*(node.wait_up(session, limit=300) for node in nodes))
            want = [sum(1 for e in edges if i in e) for i in range(n)]
            deadline = time.monotonic() + 300
            while True:
                views = await asyncio.gather(*(node.get(session, "/api/peers") for node in nodes))
                links = [len(v["peers"]) for v in views]
                if links == want:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"links never came up: {links} against {want}")
                await asyncio.sleep(0.2)
            print(f"{n} nodes up and linked in {time.perf_counter() - t0:.1f} s")

            tx_times, (tx_bytes, tx_msgs) = await propagate_tx(session, nodes,
                                                               nodes[rng.randrange(n)])
            print(f"transaction reached  {fmt(tx_times)}   {tx_bytes / n:,.0f} bytes and "
                  f"{tx_msgs / n:.1f} messages a node")
            block_runs = []
            for k in range(n_blocks):
                block_runs.append(
                    await propagate_block(session, nodes, nodes[rng.randrange(n)], 2 + k))
            first_times, (first_bytes, first_msgs) = block_runs[0]
            print(f"first block reached  {fmt(first_times)}   {first_bytes / n:,.0f} bytes and "
                  f"{first_msgs / n:.1f} messages a node")
            med = {k: statistics.median(r[0][k] for r in block_runs) for k in first_times}
            med_bytes = statistics.median(r[1][0] for r in block_runs)
            med_msgs = statistics.median(r[1][1] for r in block_runs)
            print(f"median of {n_blocks} blocks {fmt(med)}   {med_bytes / n:,.0f} bytes and "
                  f"{med_msgs / n:.1f} messages a node (aim <= 8)")
            worst = max(r[0]["p100"] for r in block_runs)
            tips = {(await node.get(session, "/api/status"))["tip"] for node in nodes}
            heights = {(await node.get(session, "/api/status"))["height"] for node in nodes}
            converged = len(tips) == 1 and heights == {1 + n_blocks}
            print(f"after {n_blocks} blocks mined on random nodes: "
                  f"{'all converged on one tip' if converged else f'{len(tips)} different tips'}"
                  f" at height {sorted(heights)};  slowest block to reach all: "
                  f"{worst * 1000:,.0f} ms (aim <= 1,000 ms)")
            resolution = statistics.median(POLL_ROUNDS)
            print(f"polling resolution: one round of REST reads takes {resolution * 1000:.0f} ms "
                  f"(median), so reach times are that coarse")
            print("(messages and bytes over each object's propagation window; pings and "
                  "address gossip in that window count too)")
        finally:
            for node in nodes:
                node.stop()
    return {
        "nodes": n, "degree": degree, "links": len(edges), "seed": seed,
        "network": "plain loopback", "cores": cpu_count(),
        "raw_verify_1core_per_s": round(raw1), "raw_verify_2core_per_s": round(raw2),
        "tx_reach_ms": {k: round(v * 1000, 1) for k, v in tx_times.items()},
        "tx_bytes_per_node": round(tx_bytes / n),
        "block_reach_ms_first": {k: round(v * 1000, 1) for k, v in first_times.items()},
        "block_reach_ms_median": {k: round(v * 1000, 1) for k, v in med.items()},
        "block_reach_all_ms_worst": round(worst * 1000, 1),
        "block_bytes_per_node_median": round(med_bytes / n),
        "poll_round_ms": round(resolution * 1000, 1),
        "tx_messages_per_node": round(tx_msgs / n, 2),
        "block_messages_per_node_median": round(med_msgs / n, 2),
        "blocks": n_blocks, "converged": converged,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=30)
    ap.add_argument("--degree", type=int, default=4)
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tuichain-bench-scale-net-"))
    try:
        print(json.dumps(asyncio.run(run(args.nodes, args.degree, args.blocks, args.seed, work))))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
