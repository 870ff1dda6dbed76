"""The lab's one error: it cannot run here (no devnet, a node down, wrong network)."""

from __future__ import annotations


class LabError(Exception):
    """Printed as one line by `tuichain lab`, shown as the scenario's end on the Lab screen."""
