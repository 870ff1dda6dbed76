"""Regenerate the README's screenshots (SVG, via Textual's own screenshot support).

Starts two real regtest nodes in temporary data directories, makes a wallet on
each, mines a few blocks, leaves one payment open, and saves every screen of the
first node's dashboard to docs/screenshots/.

Usage: python scripts/screenshots.py [--size 100x30]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from tuichain.app import TuichainApp
from tuichain.config import NodeConfig
from tuichain.core.params import COIN, REGTEST
from tuichain.node import Node

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
SCREENS = [("wallet", "w"), ("mining", "m"), ("mempool", "o"), ("explorer", "e"),
           ("peers", "p"), ("log", "l")]


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110 - polling the app's state
            await asyncio.sleep(0.05)


async def main(width: int, height: int) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tuichain-shots-") as tmp:
        other = Node(NodeConfig(port=0, data_dir=Path(tmp) / "b", network=REGTEST,
                                mining_pace=0.05))
        await other.start()
        await other.create_wallet(None)
        config = NodeConfig(port=0, data_dir=Path(tmp) / "a", network=REGTEST, mining_pace=0.05)
        app = TuichainApp(config)
        try:
            async with app.run_test(size=(width, height)) as pilot:
                await wait_for(lambda: app.node_ready)
                node = app.node
                await node.create_wallet(None)
                await node.net.connect(other.listen_url)
                for _ in range(4):
                    await node.mining.mine_one()
                assert other.address is not None
                await node.send(other.address, 12 * COIN + COIN // 2, 2_000, b"for the README")
                await pilot.pause(1.0)
                for name, key in SCREENS:
                    await pilot.press(key)
                    await pilot.pause(1.0)
                    path = OUT / f"{name}.svg"
                    app.save_screenshot(filename=path.name, path=str(path.parent))
                    print(f"wrote {path}")
                await pilot.press("q")
        finally:
            await other.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="100x30", help="terminal size, WIDTHxHEIGHT")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.lower().split("x"))
    asyncio.run(main(w, h))
