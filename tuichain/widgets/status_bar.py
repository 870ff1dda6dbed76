"""The one-line node status shown above the footer on every screen."""

from __future__ import annotations

from rich.text import Text

from ..actions import app_clock, app_node
from ..display.plural import plural
from ..display.units import format_age, format_rate
from .live_text import LiveText


class StatusBar(LiveText):
    DEFAULT_CSS = """
    StatusBar {
        dock: bottom;
        height: 1;
        /* sits just above the Footer, which docks to the same edge */
        margin-bottom: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    """

    def __init__(self) -> None:
        # One docked line of a fixed height: a new text never needs a relayout, which
        # took up to 45 ms a new tip while a sync moved the tip many times a second.
        super().__init__(fixed=True)

    def on_mount(self) -> None:
        self.refresh_status()
        self.set_interval(1.0, self.refresh_status)

    def refresh_status(self) -> None:
        self.show(self.status_text())

    def status_text(self) -> Text:
        node = app_node(self.app)
        if node is None:
            error = getattr(self.app, "start_error", None)
            if error:
                return Text(f"node stopped: {error}", style="bold red")
            return Text("starting node…", style="italic")
        status = node.status()
        sep = (" │ ", "dim")
        parts: list[str | tuple[str, str]] = [
            (f"{status.network} :{status.port}", "bold"),
            sep,
            f"height {status.height}",
            sep,
            f"tip {format_age(app_clock(self.app)() - status.tip_time)} ago",
            sep,
            (
                plural(status.peers, "peer"),
                "" if status.peers else "yellow",
            ),
            sep,
            ("syncing…", "yellow") if status.syncing else ("synced", "green"),
            sep,
            (f"⛏ {format_rate(status.hash_rate)}", "bold green")
            if status.mining
            else ("not mining", "dim"),
        ]
        net = getattr(node, "_net", None)
        if net is not None and net.link_filter.partitioned:
            parts += [sep, ("partitioned", "bold red")]
        if status.error:
            parts += [sep, (f"⚠ {status.error}", "bold red")]
        return Text.assemble(*parts)
