"""A funded regtest devnet: wallets start with coins, the faucet pays, status speaks JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuichain.core.params import COIN

from .test_devnet import DevnetRun

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def devnet2(tmp_path: Path) -> Iterator[DevnetRun]:
    run = DevnetRun(tmp_path, 2)
    yield run
    run.cleanup()


def test_fund_automine_faucet_and_status_json(devnet2: DevnetRun) -> None:
    run = devnet2
    started = run.start("--fund", "30", "--automine")
    assert started.returncode == 0, started.stderr + started.stdout
    balance = run.wallet(2, "balance")
    assert balance["confirmed"] == 30 * COIN
    assert balance["confirmed_coins"] == "30"
    # node1 automines the funding payments, and keeps those blocks' rewards on top.
    assert run.wallet(1, "balance")["confirmed"] >= 30 * COIN

    status = run.cli("devnet", "status", "--dir", str(run.dir), "--json")
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["all_up"] is True
    assert [n["address"] for n in doc["nodes"]] == [run.address(1), run.address(2)]
    height = doc["nodes"][0]["status"]["height"]

    paid = run.cli("faucet", "--to", run.address(2), "--amount", "2.5", "--dir", str(run.dir),
                   "--json")
    assert paid.returncode == 0, paid.stderr
    block = json.loads(paid.stdout)
    assert block["height"] > height
    waited = run.cli("wait", "--data-dir", str(run.data_dir(2)), "--port", str(run.base + 1),
                     "--height", str(block["height"]))
    assert waited.returncode == 0, waited.stderr
    assert run.wallet(2, "balance")["confirmed"] == 30 * COIN + 5 * COIN // 2

    # A payment between nodes is mined at once by node1's automine.
    sent = run.cli("wallet", "send", "--data-dir", str(run.data_dir(2)), "--to", run.address(1),
                   "--amount", "1", "--wait", "--timeout", "60", "--json")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["confirmations"] >= 1

    bad = run.cli("faucet", "--to", "tcrt1nope", "--amount", "1", "--dir", str(run.dir))
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
