"""State reads stay flat as the chain grows, and a long chain opens in little memory.

Builds a chain of empty blocks (each coinbase pays a new address, so the
account table grows with the chain) straight through ChainState, then
  - times balance/nonce reads at height 100 and at height 100,000
    (aim: ratio <= 1.2), beside a bare SQLite primary-key read (the raw limit);
  - opens the 100,000-block chain in a fresh process through Ledger.open, reads
    accounts, and reports that process's peak RSS (aim <= 150 MB) beside a bare
    interpreter that only imported the package.

With --db both (or a postgresql:// DSN) the same is measured on SQLite and on
PostgreSQL in one run and the figures are printed side by side, with
PostgreSQL's ratio to SQLite (see bench/_db.py).

Usage: python bench/state.py [--height 100000] [--dir DIR] [--db sqlite|both|DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _repo  # noqa: F401  (the repository root on sys.path)
from _db import DB_HELP, SQLITE, backends, ratio, side_by_side

from tests.builders import block_on
from tuichain.core.block import Block, BlockHeader
from tuichain.core.chainstate import ChainState
from tuichain.core.genesis import genesis_block
from tuichain.core.params import REGTEST
from tuichain.core.store import Store, open_store

# Regtest's halvings would zero the reward (and stop new accounts) by height 10,000.
PARAMS = dataclasses.replace(REGTEST, name="regtest-state-bench", halving_interval=10**7)
READS = 20_000
DB_FILE = "chain.sqlite3"


def address(height: int) -> bytes:
    return hashlib.sha256(b"state-bench-%d" % height).digest()[:20]


def next_block(parent: BlockHeader, height: int) -> Block:
    return block_on(PARAMS, parent, height, time=parent.time + 1, miner=address(height))


def grow(chain: ChainState, height: int) -> None:
    parent = chain.tip.header
    for h in range(chain.tip.height + 1, height + 1):
        block = next_block(parent, h)
        res = chain.process_block(block, now=block.header.time)
        if res.status != "connected":
            raise SystemExit(f"block {h}: {res.status} {res.error}")
        parent = block.header


def time_reads(store: Store, top: int, rng: random.Random, warm: bool = True) -> float:
    """Seconds per balance/nonce read of a random existing account. With `warm`, the
    same addresses are read once untimed first, so the figure is the steady state
    (index pages in SQLite's cache), not first-touch page loads from the OS."""
    addrs = [address(rng.randint(1, top)) for _ in range(READS)]
    if warm:
        for a in addrs:
            store.account(a)
    start = time.perf_counter()
    for a in addrs:
        balance, _ = store.account(a)
        assert balance > 0
    return (time.perf_counter() - start) / READS


def raw_read() -> float:
    """The floor: a primary-key SELECT on a one-row table in memory."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t(k BLOB PRIMARY KEY, a INTEGER, b INTEGER) WITHOUT ROWID")
    db.execute("INSERT INTO t VALUES(?,?,?)", (b"k" * 20, 1, 2))
    key = b"k" * 20
    start = time.perf_counter()
    for _ in range(READS):
        db.execute("SELECT a, b FROM t WHERE k=?", (key,)).fetchone()
    return (time.perf_counter() - start) / READS


def rss_mb() -> float:
    """Peak RSS of this process image. ru_maxrss survives fork+exec on Linux (a child
    reports its parent's peak if larger), so read the kernel's VmHWM when we can."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def open_and_read(data_dir: Path, height: int, db: str | None) -> dict[str, float]:
    """Run in a fresh process: what it costs to have the long chain open."""
    from tuichain.core.ledger import Ledger

    start = time.perf_counter()
    ledger = await Ledger.open(data_dir, PARAMS, database=db)
    open_s = time.perf_counter() - start
    rng = random.Random(2)
    start = time.perf_counter()
    for _ in range(2000):
        info = await ledger.account(address(rng.randint(1, height)))
        assert info.balance > 0
    per_read = (time.perf_counter() - start) / 2000
    assert ledger.tip is not None
    assert ledger.tip.height == height
    await ledger.close()
    return {
        "open_s": open_s,
        "ledger_read_us": per_read * 1e6,
        "rss_mb": rss_mb(),
        "maxrss_mb": maxrss_mb(),
    }


def child(args: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--height", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, help="keep the chain here (reused if present)")
    ap.add_argument("--open-only", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--database", help=argparse.SUPPRESS)
    ap.add_argument("--db", default=SQLITE, help=DB_HELP)
    args = ap.parse_args()
    if args.baseline:
        import tuichain.core.ledger  # noqa: F401

        print(json.dumps({"rss_mb": rss_mb(), "maxrss_mb": maxrss_mb()}))
        return
    if args.open_only:
        print(json.dumps(asyncio.run(open_and_read(args.open_only, args.height, args.database))))
        return
    results: dict[str, dict[str, object]] = {}
    with backends(args.db) as chosen:
        for backend in chosen:
            print(f"[{backend.name}]")
            with backend.fresh() as db:
                results[backend.name] = measure(args, db)
    if len(results) == 1:
        print(json.dumps(results[SQLITE]))
        return
    names = list(results)
    rows = [
        ("balance read at height 100", "us", "read_us_h100"),
        (f"balance read at height {args.height}", "us", "read_us_top"),
        ("  first touch", "us", "read_us_top_first_touch"),
        ("Ledger.account", "us", "ledger_account_us"),
        ("empty blocks via ChainState", "blocks/s", "build_blocks_per_s"),
        ("Ledger open", "s", "open_s"),
        ("open peak RSS", "MB", "open_rss_mb"),
    ]
    print()
    side_by_side(
        [(label, unit, {n: float(results[n][key] or "nan") for n in names})  # type: ignore[arg-type]
         for label, unit, key in rows],
        names,
    )
    out: dict[str, object] = dict(results)
    out["postgresql_vs_sqlite"] = {
        key: round(ratio(float(results[names[1]][key] or "nan"),  # type: ignore[arg-type]
                         float(results[SQLITE][key] or "nan")), 3)  # type: ignore[arg-type]
        for _, _, key in rows
    }
    print(json.dumps(out))


def measure(args: argparse.Namespace, db: str | None) -> dict[str, object]:
    if db:
        # The bench's network name has a '-', which a schema name may not hold.
        db += ("&" if "?" in db else "?") + "schema=tuichain_state_bench"
    tmp = None
    if args.dir is None:
        tmp = tempfile.TemporaryDirectory()
        data_dir = Path(tmp.name)
    else:
        data_dir = args.dir
    rng = random.Random(1)
    chain = ChainState(open_store(db or data_dir / DB_FILE, PARAMS.name), PARAMS)
    assert chain.tip.hash == genesis_block(PARAMS).hash or chain.tip.height >= 100
    reused = chain.tip.height >= args.height
    if not reused:
        grow(chain, 100)
    raw = raw_read()
    print(f"raw SQLite primary-key read:          {raw * 1e6:7.2f} us")
    # Reads at height 100 only make sense on a chain we are about to grow.
    small = time_reads(chain.store, 100, rng) if not reused else float("nan")
    print(f"balance/nonce read at height 100:     {small * 1e6:7.2f} us  {small / raw:5.2f}x raw")

    start = time.perf_counter()
    first = chain.tip.height
    steps: dict[int, float] = {}
    for mark in (1_000, 10_000, args.height):
        if mark > args.height or mark <= chain.tip.height:
            continue
        grow(chain, mark)
        if mark != args.height and not reused:
            pause = time.perf_counter()
            steps[mark] = time_reads(chain.store, mark, rng)
            print(f"balance/nonce read at height {mark}: {steps[mark] * 1e6:9.2f} us")
            start += time.perf_counter() - pause
    build_s = time.perf_counter() - start
    built = args.height - first
    if built:
        print(
            f"built {built} empty blocks via ChainState in {build_s:.1f} s "
            f"({built / build_s:.0f} blocks/s)"
        )
    cold = time_reads(chain.store, args.height, rng, warm=False)
    big = time_reads(chain.store, args.height, rng)
    ratio = big / small if small == small else float("nan")
    print(
        f"balance/nonce read at height {args.height}: {big * 1e6:7.2f} us  {big / raw:5.2f}x raw"
        f"  ratio to height 100: {ratio:.2f} (aim <= 1.2)"
    )
    print(
        f"  (first-touch reads at height {args.height}, pages not yet cached: {cold * 1e6:.2f} us)"
    )
    if 1_000 in steps:
        print(f"ratio height {args.height} / height 1000: {big / steps[1_000]:.2f}")
    accounts = sum(1 for _ in chain.store.account_rows())
    chain.store.close()
    build_rss = rss_mb()

    script = str(Path(__file__).resolve())
    base = child([script, "--baseline"])
    opened = child([script, "--open-only", str(data_dir), "--height", str(args.height)]
                   + (["--database", db] if db else []))
    print(f"bare interpreter + package:           {base['rss_mb']:7.1f} MB peak RSS")
    print(
        f"Ledger open on {args.height} blocks ({accounts} accounts): "
        f"{opened['rss_mb']:.1f} MB peak RSS (aim <= 150; ru_maxrss {opened['maxrss_mb']:.1f}), "
        f"{opened['rss_mb'] / base['rss_mb']:.2f}x bare, opened in {opened['open_s']:.2f} s, "
        f"Ledger.account {opened['ledger_read_us']:.0f} us"
    )
    print(f"builder process peak RSS:             {build_rss:7.1f} MB")
    result = {
                "height": args.height,
                "accounts": accounts,
                "raw_read_us": round(raw * 1e6, 3),
                "read_us_h100": round(small * 1e6, 3),
                "read_us_top": round(big * 1e6, 3),
                "read_us_top_first_touch": round(cold * 1e6, 3),
                "read_ratio": round(ratio, 3),
                "read_us_by_height": {str(k): round(v * 1e6, 3) for k, v in steps.items()},
                "read_ratio_vs_h1000": round(big / steps[1_000], 3) if 1_000 in steps else None,
                "read_top_vs_raw": round(big / raw, 2),
                "ledger_account_us": round(opened["ledger_read_us"], 1),
                "open_s": round(opened["open_s"], 3),
                "open_rss_mb": round(opened["rss_mb"], 1),
                "baseline_rss_mb": round(base["rss_mb"], 1),
                "builder_rss_mb": round(build_rss, 1),
                "build_s": round(build_s, 1),
                "build_blocks_per_s": round(built / build_s) if built else None,
    }
    if tmp is not None:
        tmp.cleanup()
    return result


if __name__ == "__main__":
    main()
