"""The Lab screen on a real two-node devnet layout: both nodes side by side, split, heal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Footer

from tests.e2e.test_devnet import free_base_port
from tuichain.app import TuichainApp
from tuichain.screens.lab import LabScreen
from tuichain.widgets.status_bar import StatusBar

from .conftest import MakeConfig, MakeNode, app_started, burst, until
from .test_help_footer import footer_line


def devnet_layout(root: Path, nodes: int) -> int:
    """A devnet folder as `tuichain devnet` lays it out; returns node1's port."""
    base = free_base_port(nodes)
    root.mkdir(parents=True)
    (root / "devnet.json").write_text(json.dumps({"nodes": nodes, "base_port": base,
                                                  "network": "regtest"}))
    return base


def lab_text(pilot: Pilot[Any]) -> str:
    screen = pilot.app.screen
    return screen.last_text if isinstance(screen, LabScreen) else ""


def status_text(pilot: Pilot[Any]) -> str:
    return pilot.app.screen.query_one(StatusBar).status_text().plain


async def test_lab_shows_the_devnet_splits_it_and_heals_it(
    tmp_path: Path, make_config: MakeConfig, make_node: MakeNode
) -> None:
    root = tmp_path / "devnet"
    base = devnet_layout(root, 2)
    app = TuichainApp(make_config(data_dir=root / "node1", port=base))
    async with app.run_test(size=(100, 30)) as pilot:
        node1 = await app_started(pilot)
        node2 = await make_node(data_dir=root / "node2", port=base + 1,
                                peers=[f"http://127.0.0.1:{base}"])
        await until(pilot, lambda: node1.status().peers == 1, "node2 to connect")
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, LabScreen), "the lab screen")
        await until(pilot, lambda: "node2" in lab_text(pilot) and "one network"
                    in lab_text(pilot), "both nodes in the lab")
        assert "node1*" in lab_text(pilot)

        burst(pilot, ["s", *"1/2", "enter"])  # typed at once: the box must take them all
        await until(pilot, lambda: node2.net.link_filter.partitioned
                    and node1.net.link_filter.partitioned, "both nodes told to split")
        await until(pilot, lambda: "partitioned" in status_text(pilot), "the status bar")
        await until(pilot, lambda: "partitioned: 1 | 2" in lab_text(pilot), "the lab says so")
        await until(pilot, lambda: "cut" in lab_text(pilot), "the cut link")
        assert node1.status().peers == 0

        await pilot.press("h")
        await until(pilot, lambda: not node1.net.link_filter.partitioned
                    and not node2.net.link_filter.partitioned, "both nodes healed")
        await until(pilot, lambda: node1.status().peers == 1, "node2 back within seconds")
        await until(pilot, lambda: "partitioned" not in status_text(pilot), "status bar healed")


async def test_lab_key_only_on_a_devnet_node_and_footer_fits_80_columns(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    root = tmp_path / "devnet"
    base = devnet_layout(root, 3)
    app = TuichainApp(make_config(data_dir=root / "node1", port=base))
    async with app.run_test(size=(80, 24)) as pilot:
        await app_started(pilot)
        await until(pilot, lambda: "Quit" in footer_line(pilot), "the footer")
        line = footer_line(pilot).rstrip()
        assert "w m o e p x t l g screens" in line
        assert line.endswith("? Help q Quit"), line
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, LabScreen), "the lab screen")
        await until(pilot, lambda: bool(app.screen.query(Footer)), "the lab's footer")
        await until(pilot, lambda: "Quit" in footer_line(pilot), "the lab's footer keys")
        line = footer_line(pilot).rstrip()
        assert "s Split" in line
        assert line.endswith("? Help q Quit"), line

    plain = TuichainApp(make_config())
    async with plain.run_test(size=(80, 24)) as pilot:
        await app_started(pilot)
        await pilot.press("g")
        await pilot.pause()
        assert not isinstance(plain.screen, LabScreen)


async def test_lab_runs_a_scenario_and_streams_its_lines(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    """`r` asks for a scenario and runs `tuichain lab NAME` in its own process: here the
    devnet's node2 is down, so what streams in is the lab's own clear refusal."""
    root = tmp_path / "devnet"
    base = devnet_layout(root, 2)
    app = TuichainApp(make_config(data_dir=root / "node1", port=base))
    async with app.run_test(size=(100, 30)) as pilot:
        await app_started(pilot)
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, LabScreen), "the lab screen")
        await pilot.press("r")
        for key in "replay":
            await pilot.press(key)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LabScreen)
        await until(pilot, lambda: "did not hold" in screen.narration, "the scenario's end")
        assert screen.narration.startswith("tuichain lab replay")
        assert "tuichain lab: " in screen.narration
