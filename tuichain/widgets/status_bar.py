"""The one-line node status shown above the footer on every screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from .chaintext import app_clock, app_node


def format_rate(rate: float) -> str:
    """Hashes per second with an SI prefix: 950 H/s, 1.23 MH/s."""
    value = float(rate)
    for unit in ("H/s", "kH/s", "MH/s", "GH/s"):
        if value < 1000 or unit == "GH/s":
            return f"{value:.0f} {unit}" if unit == "H/s" else f"{value:.2f} {unit}"
        value /= 1000
    return f"{value:.2f} GH/s"


def format_age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d"


def format_duration(seconds: float) -> str:
    """Expected waits: '~0.4 s', '~12 s', '~3 min', '~5 h', '~2 days'."""
    if seconds < 1:
        return f"~{seconds:.1f} s"
    if seconds < 120:
        return f"~{seconds:.0f} s"
    if seconds < 7200:
        return f"~{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"~{seconds / 3600:.0f} h"
    return f"~{seconds / 86400:.0f} days"


class StatusBar(Static):
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

    def on_mount(self) -> None:
        self.refresh_status()
        self.set_interval(1.0, self.refresh_status)

    def refresh_status(self) -> None:
        self.update(self.status_text())

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
                f"{status.peers} peer{'s' if status.peers != 1 else ''}",
                "" if status.peers else "yellow",
            ),
            sep,
            ("syncing…", "yellow") if status.syncing else ("synced", "green"),
            sep,
            (f"⛏ {format_rate(status.hash_rate)}", "bold green")
            if status.mining
            else ("not mining", "dim"),
        ]
        return Text.assemble(*parts)
