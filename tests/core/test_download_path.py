"""The bodies a sync asks for next (`ChainState.missing_blocks`), as bodies arrive,
as a block on the way turns out invalid, and toward two header chains at once: the
path is remembered between calls, and must answer as if walked afresh every time."""

from __future__ import annotations

from pathlib import Path

from tests.builders import extend, fork, genesis_link, import_all, key, make_block, open_chain, pay
from tuichain.core.params import REGTEST

NOW = REGTEST.genesis_time + 10**8


def test_the_download_path_follows_arrivals_invalid_blocks_and_targets(tmp_path: Path) -> None:
    cs = open_chain(tmp_path)
    try:
        base = extend(REGTEST, genesis_link(), 2)
        import_all(cs, base)
        good = extend(REGTEST, base[-1], 19)
        # An overspend: its header is valid, its body fails on connect.
        bad = make_block(REGTEST, good[-1], [pay(key(9), bytes(20), 10**9, 0)])
        line = [*good, bad, *extend(REGTEST, bad, 20)]
        other = fork(REGTEST, base[-1], 30, tag=b"other")
        assert cs.process_headers([link.header for link in line], now=NOW).error is None
        assert cs.process_headers([link.header for link in other], now=NOW).error is None
        hashes = [link.hash for link in line]
        end = hashes[-1]
        assert cs.missing_blocks(5, toward=end) == hashes[:5]
        assert cs.missing_blocks(5, toward=other[-1].hash) == [o.hash for o in other[:5]]
        # Ten bodies arrive: the next call starts after them.
        for link in line[:10]:
            assert cs.process_block(link.block, now=NOW).status == "connected"
        assert cs.missing_blocks(5, toward=end) == hashes[10:15]
        assert cs.missing_blocks(3, toward=end, skip=set(hashes[10:12])) == hashes[12:15]
        assert cs.missing_blocks(5, toward=other[-1].hash) == [o.hash for o in other[:5]]
        for link in good[10:]:
            assert cs.process_block(link.block, now=NOW).status == "connected"
        assert cs.missing_blocks(5, toward=end) == hashes[19:24]
        # The bad body arrives: nothing at or past it is asked for again.
        assert cs.process_block(bad.block, now=NOW).status == "invalid"
        assert cs.missing_blocks(5, toward=end) == []
        assert cs.missing_blocks(5, toward=hashes[25]) == []
        assert cs.missing_blocks(5, toward=other[-1].hash) == [o.hash for o in other[:5]]
    finally:
        cs.store.close()
