"""Five `tuichain --headless` processes in a line: gossip end to end, partition, heal.

    n0 -- n1 -- n2 -- n3 -- n4        (each dials the one before it)

Cutting the line for real takes care: every node remembers peers in
peers.toml (address book, filled by addr gossip) and dials them again (--peer
lasts one run). So the right half {n3, n4} is stopped, forgets every peer
(peers.toml deleted), and comes back on new ports the left half has
never heard of. Healing is n3 dialling n2 again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuichain.core.amounts import parse_amount

from .helpers import NodePool, NodeProcess, free_port, http_json, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

LEFT_PACE = "0.1"
RIGHT_PACE = "0.3"


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[NodePool]:
    nodes = NodePool(tmp_path)
    yield nodes
    nodes.close()


def tips(nodes: list[NodeProcess]) -> set[str]:
    return {node.status()["tip"] for node in nodes}


def converged(nodes: list[NodeProcess]) -> str | None:
    """The one tip all nodes share, or None."""
    seen = tips(nodes)
    return next(iter(seen)) if len(seen) == 1 else None


def tx_state(node: NodeProcess, txid: str) -> dict | None:
    status, doc = http_json(f"{node.url}/api/txs/{txid}")
    return doc if status == 200 else None


def confirmed_on(node: NodeProcess, txid: str) -> bool:
    doc = tx_state(node, txid)
    return doc is not None and doc.get("confirmations", 0) >= 1


def send(pool: NodePool, data_dir: Path, node: NodeProcess, to: str, amount: str) -> str:
    result = pool.wallet(
        "send",
        "--data-dir",
        str(data_dir),
        "--node",
        node.url,
        "--to",
        to,
        "--amount",
        amount,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["txid"]


def address(pool: NodePool, data_dir: Path) -> str:
    result = pool.wallet("address", "--data-dir", str(data_dir), "--network", "regtest")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def forget_peers(node: NodeProcess) -> None:
    (node.data_dir / "peers.toml").unlink(missing_ok=True)


def test_line_gossips_partitions_and_heals(pool: NodePool) -> None:
    root = pool.root
    # --- a line of five; mine at one end, pay from the other ------------------------
    made = pool.wallet("new", "--data-dir", str(root / "n4"), "--network", "regtest")
    assert made.returncode == 0, made.stderr
    addr4 = made.stdout.strip()
    nodes = [pool.spawn("n0", "--mine", "--mining-pace", LEFT_PACE)]
    for i in range(1, 5):
        nodes.append(pool.spawn(f"n{i}", "--peer", nodes[-1].url))
    n0, n1, n2, n3, n4 = nodes
    addr0 = address(pool, n0.data_dir)

    # n4 must see n0's coins before it can hand out the right nonce and balance.
    wait_for(
        lambda: n4.get(f"/api/addresses/{addr0}")["balance"] >= parse_amount("20"),
        "n0's mined coins to reach n4",
    )
    tx1 = send(pool, n0.data_dir, n4, addr4, "10")
    wait_for(lambda: confirmed_on(n4, tx1), "the payment entered at n4 to be mined at n0")

    # Stop mining (restart n0 without --mine) so the five can settle on one tip.
    assert n0.stop() == 0
    n0 = pool.spawn("n0", "--peer", n1.url, port=n0.port)
    line = [n0, n1, n2, n3, n4]
    common_tip = wait_for(lambda: converged(line), "the line to agree on one tip")
    assert all(confirmed_on(node, tx1) for node in line)

    # --- partition: {n0, n1, n2} | {n3, n4} ---------------------------------------
    for node in (n3, n4):
        assert node.stop() == 0
        forget_peers(node)
    n0.stop()
    n0 = pool.spawn("n0", "--mine", "--mining-pace", LEFT_PACE, "--peer", n1.url, port=n0.port)
    right_miner = pool.spawn("n3", "--mine", "--mining-pace", RIGHT_PACE, port=free_port())
    n4 = pool.spawn("n4", "--peer", right_miner.url, port=free_port())

    # A payment confirmed only on the right: the side that will lose.
    tx_right = send(pool, n4.data_dir, n4, addr0, "1")
    wait_for(lambda: confirmed_on(n4, tx_right), "the right half to mine its payment")
    assert right_miner.stop() == 0
    right_height = n4.height()
    right_tip = n4.status()["tip"]
    assert tx_state(n0, tx_right) is None, "the halves were not cut apart"

    n0.wait_height(right_height + 3)
    assert n0.stop() == 0
    n0 = pool.spawn("n0", "--peer", n1.url, port=n0.port)
    left = [n0, n1, n2]
    left_tip = wait_for(lambda: converged(left), "the left half to agree")
    left_status = n0.status()
    assert left_status["height"] > right_height
    assert left_tip not in (right_tip, common_tip)

    # --- heal: n3 comes back (not mining) and dials both halves ----------------------
    n3 = pool.spawn("n3", "--peer", n2.url, "--peer", n4.url, port=right_miner.port)
    everyone = [n0, n1, n2, n3, n4]
    final_tip = wait_for(lambda: converged(everyone), "all five to converge after healing")
    assert final_tip == left_tip  # the branch with the most work
    assert {node.status()["chainwork"] for node in everyone} == {left_status["chainwork"]}

    # Nothing still valid is lost: the right half's payment is back in every mempool.
    for node in everyone:
        state = wait_for(
            lambda node=node: tx_state(node, tx_right), f"the reorged payment to reach {node.url}"
        )
        assert state["in_mempool"] is True
        assert state.get("confirmations", 0) == 0
        assert confirmed_on(node, tx1)
