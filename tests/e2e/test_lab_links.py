"""The network lab's link control on a real three-node devnet: split, mine both sides, heal.

Real processes (`tuichain devnet ...`, `tuichain mine`), real sockets on
127.0.0.1. While split, the per-link counters of every node show that not
one message crossed between the groups; after the heal every node holds the
most-work tip, and every node's stored accounts equal a replay of its chain.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tuichain.core.params import REGTEST

from .audit import ledger_problems, read_store
from .helpers import http_json, wait_for
from .test_devnet import DevnetRun

pytestmark = pytest.mark.timeout(300)

WAIT = 90.0  # seconds; bounds a failure only


@pytest.fixture
def lab3(tmp_path: Path) -> Iterator[DevnetRun]:
    run = DevnetRun(tmp_path, 3)
    yield run
    run.cleanup()


def devnet(run: DevnetRun, *args: str) -> dict[str, Any]:
    result = run.cli("devnet", *args, "--dir", str(run.dir), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def mine(run: DevnetRun, k: int, blocks: int) -> None:
    result = run.cli("mine", str(blocks), "--data-dir", str(run.data_dir(k)), "--json")
    assert result.returncode == 0, result.stdout + result.stderr


def cross_counters(links: dict[str, Any], groups: list[list[int]]) -> dict[tuple[int, int], tuple]:
    """Per ordered pair of nodes in different groups: (messages, bytes) each way, as the first
    node counts them."""
    ids = {int(n["name"][4:]): n["node_id"] for n in links["nodes"]}
    side = {k: i for i, g in enumerate(groups) for k in g}
    found = {}
    for n in links["nodes"]:
        a = int(n["name"][4:])
        for b, b_id in ids.items():
            if side[a] == side[b]:
                continue
            link = next((lk for lk in n["links"] if lk["node_id"] == b_id), None)
            found[(a, b)] = (None if link is None else (
                link["up"], link["messages_sent"], link["messages_received"],
                link["bytes_sent"], link["bytes_received"]))
    return found


def tips(run: DevnetRun) -> dict[int, tuple[int, str]]:
    return {k: (run.status(k)["height"], run.status(k)["tip"]) for k in (1, 2, 3)}


@pytest.mark.slow
def test_split_mine_both_sides_heal_and_every_node_agrees_with_a_replay(
    lab3: DevnetRun,
) -> None:
    run = lab3
    started = run.start()
    assert started.returncode == 0, started.stderr + started.stdout
    for k in (1, 2, 3):
        wait_for(lambda k=k: run.status(k)["peers"] >= 2, f"node{k} to reach 2 peers", WAIT)
    mine(run, 1, 2)  # a shared history below the fork
    wait_for(lambda: len(set(tips(run).values())) == 1, "one tip before the split", WAIT)
    fork_height = run.status(1)["height"]

    split = devnet(run, "split", "1,2/3")
    assert split["partitioned"]
    assert split["plan"]["groups"] == [[1, 2], [3]]
    groups = [[1, 2], [3]]
    links = devnet(run, "links")
    before = cross_counters(links, groups)
    assert before
    assert all(c is not None and c[0] is False for c in before.values()), before
    rows = {(r["a"], r["b"]): r for r in links["links"]}
    assert rows[(1, 3)]["cut"]
    assert rows[(2, 3)]["cut"]
    assert rows[(1, 2)]["up"]
    assert rows[(1, 2)]["messages_a_to_b"] > 0  # the counters do count

    # Both sides mine; group {1,2} shares its blocks inside, node3 stays alone.
    mine(run, 1, 3)
    mine(run, 3, 2)
    wait_for(lambda: run.status(2)["height"] == fork_height + 3, "node2 to follow node1", WAIT)
    side_a, side_b = run.status(1)["tip"], run.status(3)["tip"]
    assert side_a != side_b
    assert run.status(3)["height"] == fork_height + 2
    assert run.status(3)["peers"] == 0
    after = cross_counters(devnet(run, "links"), groups)
    assert after == before, "a message crossed the partition"

    healed = devnet(run, "heal")
    assert not healed["partitioned"]
    wait_for(lambda: set(tips(run).values()) == {(fork_height + 3, side_a)},
             "every node on the most-work tip after the heal", WAIT)
    wait_for(lambda: all(run.status(k)["peers"] >= 2 for k in (1, 2, 3)),
             "the full mesh again", WAIT)
    joined = cross_counters(devnet(run, "links"), groups)
    assert all(c is not None and c[0] for c in joined.values()), joined
    assert all(joined[p][1] > before[p][1] for p in joined)  # messages flow again

    # The loser said how deep its reorg went.
    log = (run.data_dir(3) / "node.log").read_text()
    assert "split-brain" in log, log[-2000:]
    assert "2 block(s) disconnected" in log
    assert run.stop().returncode == 0
    for k in (1, 2, 3):
        view = read_store(run.data_dir(k) / "chain.sqlite3")
        assert view.tip.hex() != ""
        assert view.height == fork_height + 3
        assert ledger_problems(REGTEST, view) == [], f"node{k}"


@pytest.mark.slow
def test_delay_holds_messages_and_bad_link_commands_are_refused(lab3: DevnetRun) -> None:
    run = lab3
    assert run.start().returncode == 0
    for k in (1, 2, 3):
        wait_for(lambda k=k: run.status(k)["peers"] >= 2, f"node{k} to reach 2 peers", WAIT)
    delayed = devnet(run, "delay", "1-3", "800ms")
    assert delayed["plan"]["delays"] == [{"a": 1, "b": 3, "ms": 800}]
    rows = {(r["a"], r["b"]): r for r in devnet(run, "links")["links"]}
    assert rows[(1, 3)]["delay_ms"] == 800
    assert rows[(1, 3)]["up"]
    assert rows[(1, 2)]["delay_ms"] == 0
    cleared = devnet(run, "delay", "clear")
    assert cleared["plan"]["delays"] == []
    for bad, needle in ((["split", "1,2"], "two groups"), (["split", "1/2"], "node3 is in no"),
                        (["split", "1,2/4"], "no node4"), (["delay", "1-1", "5ms"], "different"),
                        (["delay", "1-3", "soon"], "800ms")):
        result = run.cli("devnet", *bad, "--dir", str(run.dir))
        assert result.returncode != 0
        assert needle in result.stderr, result.stderr
    code, doc = http_json(run.url(1) + "/control/links")
    assert code == 401  # the filter is behind the cookie like all of /control
