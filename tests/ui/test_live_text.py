"""LiveText skips the screen's relayout when a new text has the old one's shape, and
must still lay it out when the shape changes (a second line needs a second row)."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from tuichain.widgets.live_text import LiveText


class _One(App[None]):
    CSS = "LiveText { height: auto; }"

    def compose(self) -> ComposeResult:
        yield LiveText("", id="t")


async def test_new_shapes_are_laid_out_and_same_shapes_still_redrawn() -> None:
    app = _One()
    async with app.run_test(size=(40, 10)) as pilot:
        text = app.query_one("#t", LiveText)
        text.show("one line")
        await pilot.pause()
        assert text.size.height == 1
        text.show(Text("now two\nlines"))
        await pilot.pause()
        assert text.size.height == 2, "a new shape was not laid out"
        text.show(Text("the 2nd\nlines"))  # the same widths: redrawn without a layout
        await pilot.pause()
        assert text.size.height == 2
        assert str(text.render()) == "the 2nd\nlines"
        text.show("one again")
        await pilot.pause()
        assert text.size.height == 1


async def test_a_fixed_size_text_is_never_laid_out_again() -> None:
    class Fixed(App[None]):
        CSS = "LiveText { height: 1; }"

        def compose(self) -> ComposeResult:
            yield LiveText("", fixed=True, id="t")

    app = Fixed()
    async with app.run_test(size=(40, 10)) as pilot:
        text = app.query_one("#t", LiveText)
        text.show("a")
        await pilot.pause()
        text.show("a longer line")
        await pilot.pause()
        assert str(text.render()) == "a longer line"
        assert text.size.height == 1
