"""Hash rates, ages and expected waits in a few characters."""

from __future__ import annotations


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
