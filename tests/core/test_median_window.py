"""The median-time window of each header, kept from its parent's, is the one a walk
back along its own branch gives, whichever branch was checked first."""

from __future__ import annotations

from pathlib import Path

from tests.builders import Link, genesis_link, make_block, open_chain
from tuichain.core.chainstate import ChainState
from tuichain.core.params import REGTEST
from tuichain.core.pow import median_time_past
from tuichain.core.rejections import Code
from tuichain.core.store.base import HeaderEntry

NOW = 4_000_000_000


def _line(parent: Link, count: int, spacing: int, tag: bytes) -> list[Link]:
    out = []
    for i in range(count):
        # Uneven steps, so a window taken from the wrong blocks shows in its median.
        parent = make_block(REGTEST, parent, time=parent.time + spacing + (i * 7) % 5,
                            memo=tag)
        out.append(parent)
    return out


def _walked(chain: ChainState, e: HeaderEntry) -> tuple[int, ...]:
    times = [e.header.time]
    while len(times) < REGTEST.mtp_window and e.height > 0:
        parent = chain.store.get_header(e.prev)
        assert parent is not None
        times.append(parent.header.time)
        e = parent
    return tuple(times)


def _branches() -> tuple[list[Link], list[Link]]:
    main = _line(genesis_link(), 30, 1_000, b"main")
    side = _line(main[4], 25, 1, b"side")  # forks at height 5, with close times
    return main, side


def test_each_window_is_its_own_branch_whichever_came_first(tmp_path: Path) -> None:
    main, side = _branches()
    for first, second in ((main, side), (side, main)):
        where = tmp_path / ("main-first" if first is main else "side-first")
        where.mkdir()
        chain = open_chain(where)
        try:
            if first is side:  # the side branch needs its base, main[:5], first
                assert chain.process_headers([x.header for x in main[:5]], now=NOW).error is None
            for line in (first, second):
                result = chain.process_headers([x.header for x in line], now=NOW)
                assert result.error is None, result.error
            for link in (*main, *side):
                e = chain.entry(link.hash)
                assert e is not None
                assert chain.previous_times(e) == _walked(chain, e), link.height
        finally:
            chain.store.close()


def test_a_time_is_judged_by_its_own_branch_median(tmp_path: Path) -> None:
    main, side = _branches()
    chain = open_chain(tmp_path)
    try:
        # The main branch's windows are cached first; its median is far above the side's.
        assert chain.process_headers([x.header for x in main], now=NOW).error is None
        assert chain.process_headers([x.header for x in side], now=NOW).error is None
        tip = side[-1]
        e = chain.entry(tip.hash)
        assert e is not None
        mtp = median_time_past(_walked(chain, e))
        late = make_block(REGTEST, tip, time=mtp + 1, memo=b"late")
        assert chain.process_headers([late.header], now=NOW).error is None
        stale = make_block(REGTEST, tip, time=mtp, memo=b"stale")
        error = chain.process_headers([stale.header], now=NOW).error
        assert error is not None
        assert error.code == Code.TIME_TOO_OLD
    finally:
        chain.store.close()
