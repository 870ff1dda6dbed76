"""Fork choice and reorgs: random block trees submitted in random order (Hypothesis),
and most-work-not-longest with real difficulty."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.builders import (
    Link,
    accounts,
    active_blocks,
    extend,
    genesis_link,
    import_all,
    key,
    make_block,
    open_chain,
    pay,
    replay_state,
    retarget_params,
)
from tests.core.conftest import NewChainDb
from tuichain.core.chainstate import ChainState
from tuichain.core.params import REGTEST
from tuichain.core.pow import target_from_bits
from tuichain.core.store import INVALID
from tuichain.core.tx import Transaction

KEYS = [key(n) for n in range(1, 5)]
ADDRS = [k.address_digest for k in KEYS]
NOW = REGTEST.genesis_time + 10**7  # no block of these tests is "too new"


@cache
def _pay(sender: int, recipient: int, amount: int, nonce: int, fee: int) -> Transaction:
    """Signing is the slow part; Hypothesis revisits the same payments a lot."""
    return pay(KEYS[sender], ADDRS[recipient], amount, nonce, fee)


@dataclass(frozen=True)
class Spec:
    parent: int  # index into the blocks built so far, 0 = genesis (taken modulo)
    miner: int
    payments: tuple[tuple[int, int, int, int], ...]  # sender, recipient, percent, fee
    bad: str  # "" | "coinbase" | "overspend"


specs = st.builds(
    Spec,
    parent=st.integers(0, 40),
    miner=st.integers(0, len(KEYS) - 1),
    payments=st.lists(
        st.tuples(
            st.integers(0, len(KEYS) - 1),
            st.integers(0, len(KEYS) - 1),
            st.integers(1, 100),
            st.integers(0, 3),
        ),
        max_size=3,
    ).map(tuple),
    bad=st.sampled_from(["", "", "", "", "", "", "coinbase", "overspend"]),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Spec], list[int]]:
    tree = draw(st.lists(specs, min_size=1, max_size=12))
    order = draw(st.permutations(range(len(tree))))
    # Some blocks arrive twice.
    repeats = draw(st.lists(st.integers(0, len(tree) - 1), max_size=3))
    return tree, [*order, *repeats]


State = dict[bytes, tuple[int, int]]


def build(tree: list[Spec]) -> tuple[list[Link], list[int], list[bool]]:
    """Blocks (index 0 is genesis), each one's parent index, and which are valid."""
    links = [genesis_link()]
    parents = [-1]
    valid = [True]
    states: list[State] = [{}]
    for i, spec in enumerate(tree, start=1):
        p = spec.parent % i
        state = dict(states[p])
        txs = []
        for s, r, pct, fee_step in spec.payments:
            balance, nonce = state.get(ADDRS[s], (0, 0))
            fee = fee_step * 1000
            amount = (balance - fee) * pct // 100
            if amount < 1:
                continue
            txs.append(_pay(s, r, amount, nonce, fee))
            state[ADDRS[s]] = (balance - amount - fee, nonce + 1)
            rb, rn = state.get(ADDRS[r], (0, 0))
            state[ADDRS[r]] = (rb + amount, rn)
        ok = valid[p]
        if spec.bad == "overspend":
            # A payment of one unit more than the sender has (a fresh key has nothing).
            s = spec.miner
            balance, nonce = state.get(ADDRS[s], (0, 0))
            txs.append(_pay(s, (s + 1) % len(KEYS), balance + 1, nonce, 0))
            ok = False
        height = links[p].height + 1
        reward = REGTEST.subsidy(height) + sum(t.fee for t in txs)
        if spec.bad == "coinbase":
            reward += 1
            ok = False
        link = make_block(
            REGTEST, links[p], txs, miner=ADDRS[spec.miner], coinbase_amount=reward, memo=b"%d" % i
        )
        mb, mn = state.get(ADDRS[spec.miner], (0, 0))
        state[ADDRS[spec.miner]] = (mb + reward, mn)
        links.append(link)
        parents.append(p)
        valid.append(ok)
        states.append(state)
    return links, parents, valid


def check_tip(
    cs: ChainState, links: list[Link], parents: list[int], valid: list[bool], arrived: set[int]
) -> None:
    def connectable(i: int) -> bool:
        while i != 0:
            if i not in arrived:
                return False
            i = parents[i]
        return True

    candidates = [i for i in range(len(links)) if valid[i] and connectable(i)]
    best = max(links[i].height for i in candidates)
    tip = cs.tip
    assert tip.height == best, (tip.height, best)
    assert tip.hash in {links[i].hash for i in candidates if links[i].height == best}
    assert cs.store.total_balance() == REGTEST.supply_at(tip.height)
    assert cs.store.chain_hash(tip.height) == tip.hash
    assert cs.store.tip_hash() == tip.hash


# new_chain_db makes a fresh store at every call, so one fixture serves every example.
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_random_trees_in_random_order(scenario: tuple[list[Spec], list[int]],
                                      new_chain_db: NewChainDb) -> None:
    tree, order = scenario
    links, parents, valid = build(tree)
    cs = open_chain(new_chain_db())
    try:
        arrived: set[int] = set()
        for n in order:
            i = n + 1
            res = cs.process_block(links[i].block, now=NOW)
            arrived.add(i)
            if res.reorg:
                event("reorg")
            if res.status == "orphan":
                event("orphan")
            if res.rejected or res.status == "invalid":
                event("rejected")
            if not valid[i]:
                assert res.status != "connected" or res.hash != links[i].hash
                assert links[i].hash not in {b.hash for b in res.connected}
            check_tip(cs, links, parents, valid, arrived)
        # Every block that is known-bad was really bad.
        for i in range(1, len(links)):
            e = cs.entry(links[i].hash)
            if e is not None and e.status == INVALID:
                assert not valid[i]
        active = active_blocks(cs)
        want = replay_state(REGTEST, active, new_chain_db())
        assert accounts(cs.store) == want
        assert all(v[0] >= 0 for v in want.values())
        # The active chain is a path of valid blocks from genesis.
        by_hash = {link.hash: i for i, link in enumerate(links)}
        assert all(valid[by_hash[b.hash]] for b in active)
    finally:
        cs.store.close()


# ---- most work, not most blocks ------------------------------------------------------
RT = retarget_params()


def _line(count: int, spacing: int, tag: bytes) -> list[Link]:
    """Blocks on genesis with the bits the schedule asks for (from a scratch ChainState)."""
    out: list[Link] = []
    parent = genesis_link(RT)
    with tempfile.TemporaryDirectory() as d:
        cs = open_chain(Path(d), RT)
        for _ in range(count):
            entry = cs.entry(parent.hash)
            assert entry is not None
            parent = make_block(
                RT, parent, time=parent.time + spacing, bits=cs.expected_bits(entry), memo=tag
            )
            import_all(cs, [parent])
            out.append(parent)
        cs.store.close()
    return out


def test_most_work_beats_most_blocks(chain_db: str | Path) -> None:
    # Fast blocks make the difficulty rise at height 4; slow blocks make it fall:
    # 4 hard blocks weigh 3 + 4 = 7 units of work, 8 easy ones 3 + 5/4.
    hard = _line(4, 1, b"hard")
    easy = _line(8, 10_000, b"easy")
    assert target_from_bits(hard[-1].bits) < target_from_bits(RT.genesis_bits)
    assert target_from_bits(easy[-1].bits) > target_from_bits(RT.genesis_bits)
    cs = open_chain(chain_db, RT)
    try:
        import_all(cs, easy)
        assert cs.tip.hash == easy[-1].hash
        easy_work = cs.tip.chainwork
        for link in hard[:-1]:
            cs.process_block(link.block, now=NOW)
        assert cs.tip.hash == easy[-1].hash  # three blocks at the old difficulty: not enough
        res = cs.process_block(hard[-1].block, now=NOW)
        assert res.status == "connected"
        assert res.reorg
        assert cs.tip.hash == hard[-1].hash
        assert cs.tip.height == 4 < 8
        assert cs.tip.chainwork > easy_work
        assert cs.store.total_balance() == RT.supply_at(4)
        assert len(res.disconnected) == 8
        assert len(res.connected) == 4
    finally:
        cs.store.close()


def test_equal_work_keeps_first_seen(chain_db: str | Path) -> None:
    g = genesis_link()
    a = extend(REGTEST, g, 2, tag=b"a")
    b = extend(REGTEST, g, 2, tag=b"b")
    cs = open_chain(chain_db)
    try:
        import_all(cs, a + b)
        assert cs.tip.hash == a[-1].hash
        import_all(cs, extend(REGTEST, b[-1], 1, tag=b"b"))
        assert cs.tip.height == 3
        assert cs.store.chain_hash(1) == b[0].hash
    finally:
        cs.store.close()


def test_reorg_onto_branch_with_invalid_block_stops_before_it(chain_db: str | Path) -> None:
    g = genesis_link()
    main = extend(REGTEST, g, 2, tag=b"m")
    side = extend(REGTEST, g, 2, tag=b"s")
    bad = make_block(REGTEST, side[-1], coinbase_amount=REGTEST.subsidy(3) + 1, memo=b"s")
    after = make_block(REGTEST, bad, memo=b"s")
    cs = open_chain(chain_db)
    try:
        import_all(cs, main + side)
        before = accounts(cs.store)
        cs.process_block(after.block, now=NOW)  # orphan first
        res = cs.process_block(bad.block, now=NOW)
        assert res.status == "invalid"
        assert {h for h, _ in res.rejected} >= {bad.hash}
        assert cs.tip.hash == main[-1].hash
        assert accounts(cs.store) == before
        entry = cs.entry(after.hash)
        assert entry is None or entry.status == INVALID
    finally:
        cs.store.close()
