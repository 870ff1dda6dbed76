"""What the user changes in the dashboard lasts, in the node's state.toml, never settings.toml."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette

from tuichain.app import TuichainApp
from tuichain.config import build_config, load_state

from .conftest import MakeConfig, app_started, until

SIZE = (80, 24)
SETTINGS = """\
# Hand-written: the dashboard must keep this comment.
network = "regtest"
theme = "textual-dark"  # what I start with
"""


def _config_from_disk(make_config: MakeConfig, data_dir: Path) -> object:
    stored = build_config(port=0, data_dir=data_dir)
    return make_config(data_dir.name, theme=stored.theme, miner_workers=stored.miner_workers)


async def test_palette_theme_persists_and_settings_comment_survives(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    data_dir = tmp_path / "t"
    data_dir.mkdir()
    (data_dir / "settings.toml").write_text(SETTINGS)
    app = TuichainApp(_config_from_disk(make_config, data_dir))  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        assert app.theme == "textual-dark"
        # The palette's own way: ctrl+p, "theme", then pick one by name.
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"theme", "enter")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the theme list")
        await pilot.pause()
        await pilot.press(*"nord", "enter")
        await until(pilot, lambda: app.theme == "nord", "the theme to change")
        await until(
            pilot, lambda: load_state(data_dir).get("theme") == "nord", "the theme to be saved"
        )
    assert (data_dir / "settings.toml").read_text() == SETTINGS

    again = TuichainApp(_config_from_disk(make_config, data_dir))  # type: ignore[arg-type]
    async with again.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        assert again.theme == "nord"
    assert (data_dir / "settings.toml").read_text() == SETTINGS


async def test_worker_count_goes_to_state(make_config: MakeConfig, tmp_path: Path) -> None:
    data_dir = tmp_path / "w"
    data_dir.mkdir()
    text = "# mine with two\nminer_workers = 2\n"
    (data_dir / "settings.toml").write_text(text)
    app = TuichainApp(_config_from_disk(make_config, data_dir))  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        assert node.mining.workers == 2
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("minus")
        await until(
            pilot, lambda: load_state(data_dir).get("miner_workers") == 1, "workers saved"
        )
    assert (data_dir / "settings.toml").read_text() == text
    assert build_config(port=0, data_dir=data_dir).miner_workers == 1
