"""The first retarget measures blocks the network mined, not the age of a fixed genesis."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.builders import extend, genesis_link, import_all, make_block, open_chain, retarget_params
from tuichain.core.params import DEFAULT, NetworkParams
from tuichain.core.pow import target_from_bits

DAYS = 3 * 24 * 60 * 60


def _params(from_genesis: bool) -> NetworkParams:
    # The genesis of retarget_params is mined, so its blocks are really valid; only
    # the consensus switch differs (the genesis header, hence its hash, is the same).
    return dataclasses.replace(retarget_params(), retarget_from_genesis=from_genesis)


def _fast_first_window(params: NetworkParams, tmp_path: Path) -> tuple[int, int]:
    """(genesis bits, bits required at the first retarget) after blocks 1..interval-1 came
    one second apart, three days after the genesis time."""
    g = genesis_link(params)
    first = make_block(params, g, time=g.time + DAYS)
    links = [first, *extend(params, first, params.retarget_interval - 2, spacing=1)]
    chain = open_chain(tmp_path, params)
    try:
        import_all(chain, links)
        nxt = make_block(params, links[-1], bits=chain.expected_bits(chain.tip))
        import_all(chain, [nxt])  # the required bits are what validation accepts
        return g.bits, nxt.bits
    finally:
        chain.store.close()


def test_fast_first_window_does_not_make_mining_easier(tmp_path: Path) -> None:
    genesis_bits, bits = _fast_first_window(_params(from_genesis=False), tmp_path)
    # Blocks came 60x faster than the spacing: the 4x clamp makes it 4x harder.
    assert target_from_bits(bits) == target_from_bits(genesis_bits) // 4


def test_measuring_from_genesis_is_what_dropped_difficulty(tmp_path: Path) -> None:
    """Bitcoin's rule (window from genesis) kept as a parameter: the days-old genesis
    time makes the same fast window look slow, and difficulty falls 4x."""
    genesis_bits, bits = _fast_first_window(_params(from_genesis=True), tmp_path)
    assert target_from_bits(bits) == target_from_bits(genesis_bits) * 4


def test_default_network_measures_from_block_one() -> None:
    assert DEFAULT.retarget_from_genesis is False
