"""Propagation benchmark: 10 nodes in a line; how fast a tx and a block reach every node.

Arrival times come from each node's own ledger events (TxAccepted, NewTip), not
polling. Beside each figure: the floor this machine sets, which is one local
import per hop (a node relays only what its ledger accepted), measured in the
same run. Also messages per node per object (both directions).

Usage: python bench/propagation.py [--nodes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

import _repo  # noqa: F401  (the repository root on sys.path)

from tests.builders import template_block
from tuichain.config import NodeConfig
from tuichain.core.events import NewTip, TxAccepted
from tuichain.core.ledger import Ledger
from tuichain.core.params import COIN, REGTEST
from tuichain.core.tx import make_payment
from tuichain.node import Node


def messages(nodes: list[Node]) -> int:
    return sum(p.messages_sent + p.messages_received for n in nodes for p in n.net.ready_peers())


class Arrivals:
    """Records when each node's ledger first publishes `match` for `key`."""

    def __init__(self, nodes: list[Node], match: type, key: bytes) -> None:
        self.seen: dict[int, float] = {}
        self.done = asyncio.Event()
        self.count = len(nodes)
        self.unsubs = [
            n.events.subscribe(self._handler(i, match, key)) for i, n in enumerate(nodes)
        ]

    def _handler(self, i: int, match: type, key: bytes):  # noqa: ANN202
        def on(event: object) -> None:
            k = getattr(event, "txid", None) or getattr(event, "hash", None)
            if isinstance(event, match) and k == key and i not in self.seen:
                self.seen[i] = time.perf_counter()
                if len(self.seen) == self.count:
                    self.done.set()

        return on

    async def last(self) -> float:
        await asyncio.wait_for(self.done.wait(), 30)
        for u in self.unsubs:
            u()
        return max(self.seen.values())


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tuichain-bench-prop-"))
    nodes: list[Node] = []
    try:
        for i in range(args.nodes):
            node = Node(
                NodeConfig(port=0, data_dir=work / f"n{i}", network=REGTEST, target_outbound=0)
            )
            await node.start()
            if nodes:
                await node.net.connect(nodes[-1].listen_url)
            nodes.append(node)
        first = nodes[0]
        await first.create_wallet(None)
        assert first.wallet is not None
        funding = await template_block(first.ledger, first.wallet.address_digest)
        await first.ledger.submit_block(funding, "bench")
        while any(n.ledger.tip.hash != funding.hash for n in nodes):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # let the last announcements settle

        # Floor: one local import of a block like the one relayed, per hop.
        ledger = await Ledger.open(work / "probe", REGTEST)
        t = time.perf_counter()
        await ledger.submit_block(funding, "bench")
        import_s = time.perf_counter() - t
        await ledger.close()
        hops = args.nodes - 1

        account = await first.wallet_account()
        assert account is not None
        assert first._key is not None
        tx = make_payment(
            first._key, REGTEST.network_id, bytes(20), COIN, 2_000, account.next_nonce
        )
        before = messages(nodes)
        watch = Arrivals(nodes, TxAccepted, tx.txid)
        start = time.perf_counter()
        await first.ledger.submit_tx(tx, "bench")
        tx_s = await watch.last() - start
        await asyncio.sleep(0.2)
        tx_msgs = messages(nodes) - before

        block = await template_block(first.ledger, first.wallet.address_digest)
        before = messages(nodes)
        watch = Arrivals(nodes, NewTip, block.hash)
        start = time.perf_counter()
        await first.ledger.submit_block(block, "bench")
        block_s = await watch.last() - start
        await asyncio.sleep(0.2)
        block_msgs = messages(nodes) - before
        floor = import_s * args.nodes
        n = args.nodes
        print(f"{n} nodes in a line ({hops} hops)")
        print(f"tx reached all nodes in    {tx_s * 1000:7.1f} ms")
        print(
            f"block reached all nodes in {block_s * 1000:7.1f} ms (aim <= 500 ms); floor of "
            f"{n} local imports {floor * 1000:.1f} ms (ratio {block_s / floor:.1f})"
        )
        print(
            f"messages per node: {tx_msgs / n:.1f} per tx, {block_msgs / n:.1f} per block "
            f"(sent + received, counting both ends of each link)"
        )
        print(
            json.dumps(
                {
                    "nodes": n,
                    "tx_ms": round(tx_s * 1000, 2),
                    "block_ms": round(block_s * 1000, 2),
                    "block_floor_ms": round(floor * 1000, 2),
                    "block_vs_floor": round(block_s / floor, 2),
                    "messages_per_node_tx": round(tx_msgs / n, 2),
                    "messages_per_node_block": round(block_msgs / n, 2),
                }
            )
        )
    finally:
        for node in reversed(nodes):
            await node.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
