"""Merkle roots and proofs (Bitcoin's construction), and the subsidy schedule."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tuichain.core.hashing import sha256d
from tuichain.core.merkle import merkle_proof, merkle_root, verify_proof
from tuichain.core.params import COIN, DEFAULT, REGTEST, NetworkParams

SETTINGS = settings(max_examples=40, deadline=None)

leaves_st = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=64, unique=True)
odd_leaves_st = leaves_st.filter(lambda xs: len(xs) % 2 == 1)


def _flip(data: bytes, i: int = 0) -> bytes:
    out = bytearray(data)
    out[i % len(out)] ^= 0x01
    return bytes(out)


def _path_nodes(leaf: bytes, index: int, branch: list[bytes]) -> list[bytes]:
    """The hash at each depth on the way from the leaf up (before combining)."""
    nodes, h = [], leaf
    for depth, sibling in enumerate(branch):
        nodes.append(h)
        h = sha256d(sibling + h) if (index >> depth) & 1 else sha256d(h + sibling)
    return nodes


def _reference_root(leaves: list[bytes]) -> bytes:
    """Straight from the definition, independent of merkle.py."""
    level = list(leaves)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(a + b) for a, b in zip(level[::2], level[1::2], strict=True)]
    return level[0]


@SETTINGS
@given(leaves_st)
@example([bytes(32)])
@example([bytes([i]) * 32 for i in range(3)])
@example([bytes([i]) * 32 for i in range(64)])
def test_every_leaf_proof_verifies(leaves: list[bytes]) -> None:
    root = merkle_root(leaves)
    assert root == _reference_root(leaves)
    depth = (len(leaves) - 1).bit_length()
    for i, leaf in enumerate(leaves):
        branch = merkle_proof(leaves, i)
        assert len(branch) == depth
        assert verify_proof(leaf, i, branch, root)


@SETTINGS
@given(leaves_st, st.data())
def test_tampered_proof_fails(leaves: list[bytes], data: st.DataObject) -> None:
    root = merkle_root(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1), label="index")
    leaf = leaves[i]
    branch = merkle_proof(leaves, i)
    assert verify_proof(leaf, i, branch, root)

    # The leaf: a changed leaf, or another leaf of the same tree at this index.
    assert not verify_proof(_flip(leaf), i, branch, root)
    for j, other in enumerate(leaves):
        if j != i:
            assert not verify_proof(other, i, branch, root)
    # The root.
    assert not verify_proof(leaf, i, branch, _flip(root, 31))
    assert not verify_proof(leaf, i, branch, sha256d(root))
    # Any branch element, its order, its length.
    for k in range(len(branch)):
        bad = list(branch)
        bad[k] = _flip(bad[k], k)
        assert not verify_proof(leaf, i, bad, root), f"branch element {k}"
    if len(branch) >= 2 and branch[0] != branch[1]:
        swapped = [branch[1], branch[0], *branch[2:]]
        assert not verify_proof(leaf, i, swapped, root)
    if branch:
        assert not verify_proof(leaf, i, branch[:-1], root)
    assert not verify_proof(leaf, i, [*branch, root], root)
    assert not verify_proof(leaf, -1, branch, root)


@SETTINGS
@given(leaves_st, st.data())
@example([bytes([i]) * 32 for i in range(3)], None)
def test_changed_index_fails(leaves: list[bytes], data: st.DataObject | None) -> None:
    """Any other position fails, with one exception inherent to Bitcoin's tree.

    On an odd level the last node is paired with itself, so its branch element
    equals the node on the path, and sha256d(x + x) does not depend on which
    side x is on. Flipping the index bit at such a depth gives an index past
    the end of the tree that verifies too (e.g. 3 leaves: leaf 2 also proves at
    index 3). Such an index is always >= the leaf count, so a verifier that
    knows the number of transactions (the block has it) can refuse it. Every
    in-range index other than the true one fails.
    """
    n = len(leaves)
    root = merkle_root(leaves)
    i = n - 1 if data is None else data.draw(st.integers(0, n - 1), label="index")
    leaf = leaves[i]
    branch = merkle_proof(leaves, i)
    nodes = _path_nodes(leaf, i, branch)
    for j in range(1 << len(branch)):
        if j == i:
            continue
        diff = i ^ j
        self_paired = all(branch[d] == nodes[d] for d in range(len(branch)) if (diff >> d) & 1)
        assert verify_proof(leaf, j, branch, root) == self_paired, f"index {j}"
        if self_paired:
            assert j >= n
    # Past the depth of the branch: refused outright.
    assert not verify_proof(leaf, i + (1 << len(branch)), branch, root)
    assert not verify_proof(leaf, 1 << len(branch), branch, root)


def test_three_leaves_last_one_ambiguous_index() -> None:
    leaves = [bytes([i]) * 32 for i in range(3)]
    root = merkle_root(leaves)
    branch = merkle_proof(leaves, 2)
    assert branch[0] == leaves[2]  # paired with itself
    assert verify_proof(leaves[2], 2, branch, root)
    assert verify_proof(leaves[2], 3, branch, root)  # index 3 does not exist
    assert not verify_proof(leaves[2], 0, branch, root)
    assert not verify_proof(leaves[2], 1, branch, root)


@SETTINGS
@given(odd_leaves_st)
def test_odd_count_repeats_last(leaves: list[bytes]) -> None:
    root = merkle_root(leaves)
    for i, leaf in enumerate(leaves):
        assert verify_proof(leaf, i, merkle_proof(leaves, i), root)
    # The duplicate-leaf weakness (CVE-2012-2459): repeating the last leaf of an
    # odd list gives the same root. This is why a block with a repeated txid
    # must be rejected; the root alone cannot tell these lists apart.
    if len(leaves) > 1:
        assert merkle_root([*leaves, leaves[-1]]) == root


@given(st.binary(min_size=32, max_size=32))
@settings(max_examples=20, deadline=None)
def test_single_leaf_root_is_leaf(leaf: bytes) -> None:
    assert merkle_root([leaf]) == leaf
    assert merkle_proof([leaf], 0) == []
    assert verify_proof(leaf, 0, [], leaf)
    assert not verify_proof(leaf, 1, [], leaf)
    assert not verify_proof(_flip(leaf), 0, [], leaf)


def test_two_leaves() -> None:
    a, b = b"\xaa" * 32, b"\xbb" * 32
    assert merkle_root([a, b]) == sha256d(a + b)
    assert merkle_proof([a, b], 0) == [b]
    assert merkle_proof([a, b], 1) == [a]


def test_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        merkle_root([])
    leaves = [bytes(32), b"\x01" * 32]
    for bad in (-1, 2, 3):
        with pytest.raises(IndexError):
            merkle_proof(leaves, bad)


# --- subsidy and supply ------------------------------------------------------


def test_regtest_supply_is_sum_of_subsidies() -> None:
    assert REGTEST.halving_interval == 150
    total = 0
    assert REGTEST.supply_at(0) == 0
    for h in range(1, 1001):
        total += REGTEST.subsidy(h)
        assert REGTEST.supply_at(h) == total, f"height {h}"


def test_regtest_halving_schedule() -> None:
    assert REGTEST.subsidy(0) == 50 * COIN
    assert REGTEST.subsidy(1) == 50 * COIN
    assert REGTEST.subsidy(149) == 50 * COIN
    assert REGTEST.subsidy(150) == 25 * COIN
    assert REGTEST.subsidy(299) == 25 * COIN
    assert REGTEST.subsidy(300) == 12_5000_0000


@pytest.mark.parametrize("params", [REGTEST, DEFAULT], ids=lambda p: p.name)
def test_subsidy_reaches_zero_and_supply_is_capped(params: NetworkParams) -> None:
    interval = params.halving_interval
    heights = [k * interval + d for k in range(70) for d in (-1, 0, 1) if k * interval + d >= 0]
    values = [params.subsidy(h) for h in heights]
    assert values == sorted(values, reverse=True), "subsidy never increases"
    last_era = next(k for k in range(70) if params.initial_subsidy >> k == 0)
    assert params.subsidy(last_era * interval) == 0
    assert params.subsidy(last_era * interval - 1) > 0
    assert params.subsidy(64 * interval) == 0
    assert params.subsidy(10**12) == 0

    # Closed form: era 0 pays from height 1 (genesis pays nothing).
    cap = sum((interval - (k == 0)) * (params.initial_subsidy >> k) for k in range(64))
    end = last_era * interval
    assert params.supply_at(end) == cap
    assert params.supply_at(end + 12_345) == cap
    assert params.supply_at(end - 1) == cap
    assert params.supply_at(end - 2) == cap - params.subsidy(end - 1)
    assert cap <= params.max_money
    # Era boundaries, against the closed form for partial eras.
    for k in range(1, last_era):
        start = k * interval
        before = sum((interval - (j == 0)) * (params.initial_subsidy >> j) for j in range(k))
        assert params.supply_at(start - 1) == before
        assert params.supply_at(start) == before + params.subsidy(start)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 40 * 150))
def test_regtest_supply_monotone(height: int) -> None:
    assert REGTEST.supply_at(height + 1) - REGTEST.supply_at(height) == REGTEST.subsidy(height + 1)
    assert REGTEST.supply_at(height) <= REGTEST.max_money
