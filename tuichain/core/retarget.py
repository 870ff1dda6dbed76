"""The retarget, explained: the current window's pace against the target, and what comes next.

Pure arithmetic over header times and bits, with the same rule as the chain
(`pow.retarget`), so what the screen predicts is what the chain will do if
blocks keep their present pace.
"""

from __future__ import annotations

from dataclasses import dataclass

from .params import NetworkParams
from .pow import decode_compact, retarget, target_from_bits

# Intervals shown when the network never retargets (regtest).
PLAIN_WINDOW = 20


def difficulty(bits: int, params: NetworkParams) -> float:
    """How many times harder than the easiest target the network allows."""
    return decode_compact(params.pow_limit_bits).target / max(1, target_from_bits(bits))


@dataclass(frozen=True)
class RetargetView:
    retargets: bool
    window_start: int  # height of the window's first block
    next_height: int  # where the next target applies (0 when there is none)
    intervals: list[int]  # seconds between consecutive blocks, window order
    target_spacing: int
    actual_timespan: int  # so far in this window
    target_timespan: int
    projected_timespan: int  # the whole window at the present pace
    clamped: bool  # the projected timespan falls outside the 4x clamp
    bits: int
    next_bits: int
    difficulty: float
    next_difficulty: float


def describe_retarget(params: NetworkParams, tip_height: int,
                      headers: list[tuple[int, int, int]]) -> RetargetView:
    """`headers`: (height, time, bits) from the window's first block to the tip."""
    by_height = {h: (t, b) for h, t, b in headers}
    bits = by_height[tip_height][1]
    if params.no_retarget:
        start = max(0, tip_height - PLAIN_WINDOW)
    else:
        start = tip_height - tip_height % params.retarget_interval
    times = [by_height[h][0] for h in range(start, tip_height + 1) if h in by_height]
    intervals = [b - a for a, b in zip(times, times[1:], strict=False)]
    actual = by_height[tip_height][0] - by_height[start][0]
    target_span = params.target_timespan
    if params.no_retarget:
        d = difficulty(bits, params)
        return RetargetView(False, start, 0, intervals, params.target_spacing, actual,
                            target_span, actual, False, bits, bits, d, d)
    done = tip_height - start
    # The chain measures first-to-last of the window: interval - 1 block gaps.
    gaps = params.retarget_interval - 1
    projected = round(actual / done * gaps) if done > 0 else params.target_spacing * gaps
    clamped = not target_span // 4 <= projected <= target_span * 4
    next_bits = retarget(params.pow_limit_bits, target_span, bits, 0, projected)
    return RetargetView(True, start, start + params.retarget_interval, intervals,
                        params.target_spacing, actual, target_span, projected, clamped, bits,
                        next_bits, difficulty(bits, params), difficulty(next_bits, params))
