"""`tuichain lab NAME` on a running devnet: each scenario, with its outcome read from the nodes.

The scenario's narration only has to end in a verdict line; what is asserted is what
the nodes themselves report afterwards (REST: status, blocks, transactions and their
lives, the rejection log, peers and bans). One regtest devnet of two nodes serves the
regtest scenarios in turn; lighter-longer gets a devnet of the retargeting lab network.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tuichain.core.rejections import Code

from .helpers import http_json
from .test_devnet import DevnetRun

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _get(run: DevnetRun, k: int, path: str) -> Any:
    status, doc = http_json(run.url(k) + path, timeout=10)
    assert status == 200, (path, doc)
    return doc


def _shared_tip(run: DevnetRun, within: float = 30.0) -> str:
    """The tip both nodes report. Node 2 mines on, so one read of each can fall either
    side of a block that has not crossed yet: read both until they agree."""
    deadline = time.monotonic() + within
    while True:
        tips = [_get(run, k, "/api/status")["tip"] for k in (1, 2)]
        if tips[0] == tips[1] or time.monotonic() > deadline:
            assert tips[0] == tips[1], tips
            return str(tips[0])
        time.sleep(0.2)


def _lab(run: DevnetRun, *args: str) -> list[str]:
    result: subprocess.CompletedProcess[str] = run.cli("lab", *args, "--dir", str(run.dir),
                                                       timeout=400)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert lines[-1].startswith("verdict: "), lines
    return lines


@pytest.fixture(scope="module")
def regtest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetRun]:
    run = DevnetRun(tmp_path_factory.mktemp("lab-regtest"), 2)
    started = run.start("--mine-on", "2")
    assert started.returncode == 0, started.stderr
    try:
        yield run
    finally:
        run.stop()


def test_replay_is_refused_by_nonce(regtest: DevnetRun) -> None:
    lines = _lab(regtest, "replay")
    assert f"rule {Code.BAD_NONCE.value}" in lines[-1]
    refused = [r for r in _get(regtest, 2, "/api/rejections?limit=500")["rejections"]
               if r["kind"] == "transaction" and r["code"] == Code.BAD_NONCE]
    assert refused
    txid = refused[0]["id"]
    info = _get(regtest, 2, f"/api/txs/{txid}")
    assert info["confirmations"] >= 1
    assert not info["in_mempool"]
    # Continuous mining on node2 was paused for the scenario and is back.
    assert _get(regtest, 2, "/api/status")["mining"]


def test_double_spend_across_a_split_is_decided_by_work(regtest: DevnetRun) -> None:
    lines = _lab(regtest, "double-spend")
    assert f"rule {Code.BAD_NONCE.value}" in lines[-1]
    # The loser: node1's own payment, refused by nonce after the heal (its rejection log).
    refused = [r for r in _get(regtest, 1, "/api/rejections?limit=500")["rejections"]
               if r["kind"] == "transaction" and r["code"] == Code.BAD_NONCE
               and r["source"] == "reorg"]
    assert refused
    lost = refused[0]["id"]
    life = _get(regtest, 1, f"/api/txs/{lost}/life")
    kinds = [e["kind"] for e in life["events"]]
    assert kinds.index("included") < kinds.index("disconnected") < kinds.index("refused")
    assert not life["in_mempool"]
    assert life["confirmations"] == 0
    # The winner: same sender, same nonce, confirmed on both nodes, on one shared tip.
    _shared_tip(regtest)
    winner = next(line.split("transaction ")[1][:16] for line in lines
                  if line.startswith("side 2:"))
    found = None
    for h in range(_get(regtest, 1, "/api/status")["height"], 0, -1):
        txs = _get(regtest, 1, f"/api/blocks/{h}")["txs"]
        found = next((t["txid"] for t in txs if t["txid"].startswith(winner)), None)
        if found:
            break
    assert found is not None
    for k in (1, 2):
        info = _get(regtest, k, f"/api/txs/{found}")
        assert info["confirmations"] >= 1
    assert "included" in [e["kind"] for e in _get(regtest, 2, f"/api/txs/{found}/life")["events"]]
    # The devnet is whole again (node2 is node1's peer), and mining on node2 is back.
    assert regtest.url(2) in [p["url"] for p in _get(regtest, 1, "/api/peers")["peers"]]
    assert _get(regtest, 2, "/api/status")["mining"]


def test_time_warp_blocks_are_refused(regtest: DevnetRun) -> None:
    before = _get(regtest, 1, "/api/rejections?limit=500")["count"]
    lines = _lab(regtest, "time-warp")
    assert f"rule {Code.TIME_TOO_OLD.value}" in lines[-1]
    log = _get(regtest, 1, "/api/rejections?limit=500")
    codes = [r["code"] for r in log["rejections"][: log["count"] - before] if r["kind"] == "block"]
    assert Code.TIME_TOO_NEW in codes
    assert Code.TIME_TOO_OLD in codes
    for r in log["rejections"][: log["count"] - before]:
        if r["kind"] == "block":
            status, _ = http_json(regtest.url(1) + f"/api/blocks/{r['id']}")
            assert status != 200 or _get(regtest, 1, f"/api/blocks/{r['id']}")["confirmations"] == 0


def test_reorg_returns_payments_to_the_mempool_and_they_confirm_again(regtest: DevnetRun) -> None:
    lines = _lab(regtest, "reorg", "3")
    assert f"rule {Code.LESS_WORK.value}" in lines[-1]
    txid = next(line.split("(")[1][:16] for line in lines if line.startswith("node1 pays"))
    # The payment's full txid from node1's wallet history, then its life on node1.
    own = [tx for tx in _get(regtest, 1, "/api/mempool")["txs"]]
    assert all(not tx["txid"].startswith(txid) for tx in own)
    found = None
    for h in range(_get(regtest, 1, "/api/status")["height"], 0, -1):
        block = _get(regtest, 1, f"/api/blocks/{h}")
        found = next((t["txid"] for t in block["txs"] if t["txid"].startswith(txid)), None)
        if found:
            break
    assert found is not None
    kinds = [e["kind"] for e in _get(regtest, 1, f"/api/txs/{found}/life")["events"]]
    assert "disconnected" in kinds
    assert kinds.count("included") >= 2
    assert _get(regtest, 2, f"/api/txs/{found}")["confirmations"] >= 1


def test_flood_is_rate_limited_then_banned(regtest: DevnetRun) -> None:
    lines = _lab(regtest, "flood")
    assert f"rule {Code.BANNED.value}" in lines[-1]
    peers = _get(regtest, 1, "/api/peers")
    assert any(b["key"].startswith("node:") for b in peers["bans"])
    limited = [r for r in _get(regtest, 1, "/api/rejections?limit=500")["rejections"]
               if r["code"] == Code.RATE_LIMITED]
    assert limited
    # node2 (honest) is still node1's peer, and they agree on the tip.
    assert len(peers["peers"]) >= 1
    _shared_tip(regtest)


def test_lighter_longer_chain_loses_on_the_lab_network(tmp_path_factory: pytest.TempPathFactory
                                                       ) -> None:
    run = DevnetRun(tmp_path_factory.mktemp("lab-retarget"), 1)
    args = [a if a != "regtest" else "lab" for a in run.start_args("--detach")]
    started = run.cli(*args)
    assert started.returncode == 0, started.stderr
    try:
        lines = _lab(run, "lighter-longer")
        assert f"rule {Code.LESS_WORK.value}" in lines[-1]
        tip = _get(run, 1, "/api/status")
        attacker = next(line for line in lines if line.startswith("released"))
        height = int(attacker.split("block ")[1].split()[0])
        assert height > tip["height"]
        # The attacker's tip as node1 stores it: higher, lighter, not on the active chain.
        for h in range(tip["height"] + 1, height + 1):
            status, _ = http_json(run.url(1) + f"/api/blocks/{h}")
            assert status == 404  # nothing active above the honest tip
        headers = _get(run, 1, "/api/headers?from=0&count=500")["headers"]
        assert max(h["height"] for h in headers) == tip["height"]
    finally:
        run.stop()
