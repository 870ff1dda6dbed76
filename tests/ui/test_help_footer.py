"""The help screen (? and F1), and footers that fit 80 columns whole."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Footer, Static

from tuichain.app import TuichainApp
from tuichain.screens.help import WORKFLOW, HelpScreen

from .conftest import MakeConfig, app_started, until

SIZE = (80, 24)
MODES = ("wallet", "mining", "mempool", "explorer", "peers", "rejections", "retarget", "log")


def footer_line(pilot: Pilot[Any]) -> str:
    screen = pilot.app.screen
    strips = screen._compositor.render_strips()
    return strips[screen.query_one(Footer).region.y].text


async def test_every_footer_fits_80_columns(make_config: MakeConfig) -> None:
    app = TuichainApp(make_config())
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        for mode in MODES:
            app.switch_mode(mode)
            await until(pilot, lambda: bool(app.screen.query(Footer)), f"{mode}'s footer")
            await until(pilot, lambda: "Quit" in footer_line(pilot), f"{mode}'s footer keys")
            line = footer_line(pilot).rstrip()
            # Whole: it ends on the last key, nothing cut or bleeding in after it.
            assert line.endswith("? Help q Quit"), (mode, line)
            assert "w m o e p x t l screens" in line, (mode, line)


async def test_help_lists_the_screens_keys_and_the_workflow(make_config: MakeConfig) -> None:
    app = TuichainApp(make_config())
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        keys = str(app.screen.query_one("#help-keys", Static).render())
        for key, what in (("a", "Add"), ("d", "Drop"), ("b", "Ban"), ("u", "Unban"),
                          ("r", "Resolve"), ("p", "Peers screen"), ("q", "Quit")):
            assert any(
                key in line.split()[0].split("/") and line.endswith(what)
                for line in keys.splitlines()
            ), (key, what, keys)
        workflow = str(app.screen.query_one("#help-workflow", Static).render())
        assert len(WORKFLOW) == 6
        for i, (step, _) in enumerate(WORKFLOW, 1):
            assert f"{i}. {step}" in workflow
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help closed")

        # F1 as well, and on the mining screen its hidden keys are listed too.
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help by F1")
        keys = str(app.screen.query_one("#help-keys", Static).render())
        assert "Mine 1 block" in keys
        assert "Start/stop" in keys


async def test_continuous_mining_keeps_one_block_toast(make_config: MakeConfig) -> None:
    app = TuichainApp(make_config(mining_pace=0.05))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        await node.create_wallet(None)
        node.mining.start_continuous()
        await until(
            pilot, lambda: node.ledger.tip is not None and node.ledger.tip.height >= 4,
            "several blocks mined", limit=60,
        )
        node.mining.stop()
        height = node.ledger.tip.height  # type: ignore[union-attr]
        await until(
            pilot,
            lambda: any(f"Block {height} found" in n.message for n in app._notifications),
            "the last block's toast",
        )
        mined = [n for n in app._notifications if n.title == "Mined"]
        assert len(mined) == 1, [n.message for n in mined]
