"""Cheap attacks on the chain state: crowding the download, filling the disk, filling memory.

Every test runs against a real SQLite file and measures what was stored.
"""

from __future__ import annotations

import dataclasses
import logging
import resource
from pathlib import Path

from tests.builders import (
    MINER,
    Link,
    extend,
    fork,
    genesis_link,
    grind,
    import_all,
    key,
    make_block,
    open_chain,
    pay,
    retarget_params,
)
from tuichain.core.block import Block, BlockHeader
from tuichain.core.chainstate import ChainState
from tuichain.core.params import REGTEST, NetworkParams
from tuichain.core.policy import DEFAULT_POLICY
from tuichain.core.pow import is_retarget_height, retarget
from tuichain.core.rejections import Code
from tuichain.core.tx import MAX_MEMO, Transaction

log = logging.getLogger(__name__)
WORK_BLOCKS = DEFAULT_POLICY.header_work_blocks


def _db_bytes(cs: ChainState) -> int:
    """Bytes of the database on disk, write-ahead log included."""
    path = cs.store.path
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _rows(cs: ChainState, table: str) -> int:
    return int(cs.store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _low_hash_siblings(parent: Link, count: int) -> list[BlockHeader]:
    """Header-only children of `parent` whose hashes sort first in the index (an
    attacker grinds for that as cheaply as for the proof of work)."""
    template = make_block(REGTEST, parent, memo=b"sibling", mine=False).header
    out: list[BlockHeader] = []
    nonce = 0
    while len(out) < count:
        header = grind(template, nonce)
        nonce = header.nonce + 1
        if header.hash[0] == 0:
            out.append(header)
    return out


# ---- item 8: the download window -------------------------------------------------
def test_header_only_siblings_do_not_crowd_out_the_honest_next_block(tmp_path: Path) -> None:
    cs = open_chain(tmp_path)
    base = extend(REGTEST, genesis_link(), 3)
    import_all(cs, base)
    now = base[-1].time + 3600
    # A hostile peer: a heavier chain on the tip whose bodies it withholds, and 16
    # header-only siblings on its first block.
    withheld = fork(REGTEST, base[-1], 5, tag=b"withheld")
    siblings = _low_hash_siblings(withheld[0], 16)
    assert cs.process_headers([w.header for w in withheld], now=now).error is None
    assert cs.process_headers(siblings, now=now).error is None
    # The honest peer's chain: its first block connects...
    honest = extend(REGTEST, base[-1], 2, tag=b"honest")
    assert cs.process_block(honest[0].block, now=now).status == "connected"
    # ...and its second has as much work as each sibling, with a parent that has a body.
    assert cs.process_headers([honest[1].header], now=now).error is None
    assert cs.tip.chainwork == cs.entry(withheld[0].hash).chainwork  # type: ignore[union-attr]
    wanted = cs.missing_blocks(64)
    assert honest[1].hash in wanted, "the honest next block must be fetchable"
    assert not set(wanted) & {s.hash for s in siblings}, "siblings cannot connect yet"
    # Toward one peer's best header: only that peer's path, each body able to connect.
    assert cs.missing_blocks(64, toward=honest[1].hash) == [honest[1].hash]
    assert cs.missing_blocks(64, toward=withheld[-1].hash) == [w.hash for w in withheld]
    assert cs.missing_blocks(2, toward=withheld[-1].hash,
                             skip={withheld[0].hash}) == [w.hash for w in withheld[1:3]]


# ---- item 9: storage -------------------------------------------------------------
def test_unrequested_less_work_side_blocks_store_nothing(tmp_path: Path) -> None:
    cs = open_chain(tmp_path)
    main = extend(REGTEST, genesis_link(), 10)
    import_all(cs, main)
    memo = bytes(MAX_MEMO)
    fat = [pay(key(1), bytes(20), 1, n, memo=memo) for n in range(20)]  # invalid in context
    side = [make_block(REGTEST, main[i % 8], fat, memo=b"side-%d" % i) for i in range(100)]
    assert all(s.block.header.prev_hash != main[-1].hash for s in side)
    cs.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size, headers, blocks = _db_bytes(cs), _rows(cs, "headers"), _rows(cs, "blocks")
    for s in side:
        result = cs.process_block(s.block, now=s.time, requested=False, source="p1")
        assert result.status == "ignored", (result.status, result.error)
    assert (_db_bytes(cs), _rows(cs, "headers"), _rows(cs, "blocks")) == (size, headers, blocks)
    assert len(cs.orphans) == 0
    # A block we asked for is stored on a side branch as before...
    assert cs.process_block(side[0].block, now=side[0].time).status == "side-branch"
    assert _rows(cs, "blocks") == blocks + 1
    # ...and an unrequested one that could become the tip is taken.
    nxt = make_block(REGTEST, main[-1])
    assert cs.process_block(nxt.block, now=nxt.time, requested=False).status == "connected"


def _low_work_headers(params: NetworkParams, base: Link, count: int) -> list[BlockHeader]:
    """`count` headers off `base` whose timestamps make the difficulty fall to the limit
    and stay there: each costs a couple of hashes."""
    chain = [base.header]
    heights = [base.height]
    for i in range(count):
        parent, height = chain[-1], heights[-1] + 1
        bits = parent.bits
        if is_retarget_height(params, height):
            first = chain[len(chain) - params.retarget_interval] if len(chain) >= (
                params.retarget_interval) else chain[0]
            bits = retarget(params.pow_limit_bits, params.target_timespan, parent.bits,
                            first.time, parent.time)
        step = params.target_spacing * 4
        header = BlockHeader(1, parent.hash, i.to_bytes(32, "big"), parent.time + step, bits, 0)
        chain.append(grind(header))
        heights.append(height)
    return chain[1:]


def test_withheld_deep_fork_low_work_headers_are_not_stored(tmp_path: Path) -> None:
    params = retarget_params()
    cs = open_chain(tmp_path, params)
    honest = [genesis_link(params)]
    # A window of 4 blocks spans 3 gaps: 80 s gaps keep the difficulty where it is.
    for _ in range(300):
        link = make_block(params, honest[-1], bits=cs.expected_bits(cs.tip),
                          time=honest[-1].time + 80)
        import_all(cs, [link])
        honest.append(link)
    assert cs.tip.header.bits == params.genesis_bits
    cheap = _low_work_headers(params, genesis_link(params), 10_000)
    assert cheap[-1].bits == params.pow_limit_bits
    now = cheap[-1].time
    cs.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size, headers = _db_bytes(cs), _rows(cs, "headers")
    first = cs.process_headers(cheap[:2000], now=now, work_blocks=WORK_BLOCKS)
    assert first.error is not None
    assert first.error.code == Code.LOW_WORK_HEADERS
    assert first.accepted == []
    for i in range(2000, len(cheap), 2000):
        assert cs.process_headers(cheap[i:i + 2000], now=now,
                                   work_blocks=WORK_BLOCKS).accepted == []
    assert (_db_bytes(cs), _rows(cs, "headers")) == (size, headers)
    assert cs.entry(cheap[0].hash) is None
    # A competing branch near the tip is still kept, so its bodies can be fetched.
    rival = extend(params, honest[-3], 3, tag=b"rival", spacing=80)
    kept = cs.process_headers([r.header for r in rival], now=now, work_blocks=WORK_BLOCKS)
    assert kept.error is None
    assert len(kept.accepted) == 3


# ---- item 10: the orphan pool ----------------------------------------------------
_PAYMENTS: list[Transaction] = []


def _fat_orphans(count: int, tag: bytes) -> list[Block]:
    """Blocks of about 225 KB on parents nobody has; the same signed payments in each
    (the signature cache makes them cheap to check after the first)."""
    if not _PAYMENTS:
        _PAYMENTS.extend(pay(key(7), MINER, 1, n, memo=bytes(MAX_MEMO)) for n in range(1000))
    out = []
    for i in range(count):
        unknown = dataclasses.replace(genesis_link().header,
                                      merkle_root=(tag + b"-%d" % i).ljust(32, b"."))
        out.append(make_block(REGTEST, Link(Block(unknown, ()), 0), _PAYMENTS, memo=tag).block)
    return out


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_orphan_pool_stays_within_its_byte_bounds(tmp_path: Path) -> None:
    cs = open_chain(tmp_path)
    pool, policy = cs.orphans, DEFAULT_POLICY
    before = _rss_kib()
    flood = _fat_orphans(60, b"flood")
    assert 200_000 < len(flood[0].encoded) < 250_000
    for block in flood:
        assert cs.process_block(block, now=block.header.time, source="p1").status == "orphan"
        assert pool.source_bytes("p1") <= policy.orphan_peer_max_bytes
        assert pool.bytes <= policy.orphan_max_bytes
    # One peer keeps only its own share; the newest survive.
    assert flood[-1].hash in pool
    assert flood[0].hash not in pool
    # Others fill the rest of the pool...
    others = {f"p{n}": _fat_orphans(9, b"o%d" % n) for n in range(2, 6)}
    for peer in ("p2", "p3", "p4"):
        for block in others[peer]:
            cs.process_block(block, now=block.header.time, source=peer)
            assert pool.bytes <= policy.orphan_max_bytes
    shares = {peer: pool.source_bytes(peer) for peer in ("p1", "p2", "p3", "p4")}
    # ...and a peer adding while it is full loses its own first: nobody else's share moves.
    for block in others["p5"]:
        assert cs.process_block(block, now=block.header.time, source="p5").status == "orphan"
        assert pool.bytes <= policy.orphan_max_bytes
        assert block.hash in pool
    assert {peer: pool.source_bytes(peer) for peer in shares} == shares
    assert others["p5"][0].hash not in pool
    # A newcomer with nothing of its own to lose takes the oldest orphan of anyone.
    oldest = next(b for b in flood if b.hash in pool)
    newcomer = _fat_orphans(1, b"new")[0]
    cs.process_block(newcomer, now=newcomer.header.time, source="p6")
    assert newcomer.hash in pool
    assert oldest.hash not in pool
    assert pool.bytes <= policy.orphan_max_bytes
    grown = (_rss_kib() - before) / 1024
    # RSS is noisy (allocator, other tests): a figure for the report, not an assertion.
    log.info("orphan pool %.1f MB accounted, %d blocks; peak RSS grew %.0f MiB over %d "
             "fat orphans", pool.bytes / 1e6, len(pool), grown, len(flood) + 38)
