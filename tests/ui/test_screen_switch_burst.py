"""Screen keys in a burst: each screen opened (and left) in the order typed, even
before it finished mounting, and each still gets its footer and status bar."""

from __future__ import annotations

from textual.widgets import Footer

from tuichain.app import TuichainApp
from tuichain.screens.retarget import RetargetScreen
from tuichain.widgets.status_bar import StatusBar

from .conftest import MakeConfig, app_started, burst, until, until_quit

SIZE = (100, 34)


async def test_screens_switched_in_a_burst_end_on_the_last_one(make_config: MakeConfig) -> None:
    # As ordinary bindings, screen keys ran when they bubbled back from the screen they
    # were routed to; a screen still mounting held its key, so later ones overtook it,
    # the burst ended elsewhere and one ran during shutdown (a crash on the way out).
    # The chrome was mounted after the app's next refresh, into a screen that could
    # still be unmounted: MountError.
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        await app_started(pilot)
        burst(pilot, [*("eteomxlpw" * 3), "t"])
        await until(pilot, lambda: isinstance(app.screen, RetargetScreen), "the last screen")
        await pilot.pause(0.5)
        assert isinstance(app.screen, RetargetScreen), app.screen
        for screen in app.mode_screens():
            await until(pilot, lambda s=screen: bool(s.query(StatusBar)) and bool(s.query(Footer)),
                        f"the chrome of {type(screen).__name__}")
        assert app.is_running


async def test_quitting_right_behind_screen_keys_is_clean(make_config: MakeConfig) -> None:
    # q right behind screen keys: the app shut down while screens were still mounting,
    # and a screen key routed earlier ran during the shutdown (RuntimeError in Textual's
    # close) or the chrome was mounted into a screen that never mounted (MountError).
    for keys in (["e", "t", "q"], [*"eteomxlpw", "q"]):
        app = TuichainApp(make_config("a"))
        async with app.run_test(size=SIZE) as pilot:
            await app_started(pilot)
            burst(pilot, keys)
            await until_quit(pilot)
