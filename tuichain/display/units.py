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


def format_ago(seconds: float) -> str:
    """Block ages for a table: 'just now', '40 s ago', '3 min ago', '5 h ago', '2 days ago'."""
    s = max(0, int(seconds))
    if s < 5:
        return "just now"
    if s < 120:
        return f"{s} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} days ago"


def format_difficulty(value: float) -> str:
    """Difficulty in a few characters: 1.00, 256.0, 65.5k, 1.23M."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}" if value >= 100 else f"{value:.2f}"
