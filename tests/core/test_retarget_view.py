"""The retarget explained: the window, the projection at the present pace, the clamp."""

from __future__ import annotations

from tuichain.core.params import DEFAULT, REGTEST
from tuichain.core.pow import retarget
from tuichain.core.retarget import describe_retarget

BITS = DEFAULT.genesis_bits


def chain(tip: int, gap: int) -> list[tuple[int, int, int]]:
    return [(h, 1_000_000 + h * gap, BITS) for h in range(tip + 1)]


def test_a_fast_window_projects_a_harder_target_at_the_next_retarget_height() -> None:
    view = describe_retarget(DEFAULT, 25, chain(25, 15))  # twice the 30 s pace
    assert (view.window_start, view.next_height) == (20, 40)
    assert view.intervals[-5:] == [15] * 5
    assert view.actual_timespan == 75
    # The chain measures blocks 20..39: 19 gaps at 15 s.
    assert view.projected_timespan == 19 * 15
    assert not view.clamped
    assert view.next_bits == retarget(DEFAULT.pow_limit_bits, DEFAULT.target_timespan, BITS,
                                      0, 19 * 15)
    assert view.next_difficulty > 2 * view.difficulty


def test_a_pace_beyond_four_times_is_clamped() -> None:
    view = describe_retarget(DEFAULT, 30, chain(30, 1))
    assert view.clamped
    assert view.next_bits == retarget(DEFAULT.pow_limit_bits, DEFAULT.target_timespan, BITS,
                                      0, DEFAULT.target_timespan // 4)


def test_regtest_never_retargets() -> None:
    rows = [(h, 1_000 + h, REGTEST.genesis_bits) for h in range(31)]
    view = describe_retarget(REGTEST, 30, rows)
    assert not view.retargets
    assert view.next_bits == view.bits
    assert len(view.intervals) == 20
