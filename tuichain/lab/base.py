"""What a lab scenario is: a name, a summary, and a run that narrates and ends in a Verdict.

A run is an async generator: it yields plain-language lines as it goes and, last, one
`Verdict` naming the rule (a `Code` of core/rejections.py) that decided the outcome.
`held` says whether the nodes behaved as that rule says, judged from their own state
(REST and control answers), never from what the script meant to do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from ..core.rejections import Code
from .client import Lab
from .errors import LabError

__all__ = ["LabError", "Run", "Scenario", "Step", "Verdict"]


@dataclass(frozen=True)
class Verdict:
    code: Code
    text: str
    held: bool = True

    def line(self) -> str:
        mark = "" if self.held else "NOT HELD: "
        return f"verdict: {mark}{self.text} (rule {self.code.value}: {self.code.explanation})"


Step = str | Verdict
Run = Callable[[Lab, list[str]], AsyncIterator[Step]]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    run: Run
    usage: str = ""  # arguments after the name, e.g. "N"
