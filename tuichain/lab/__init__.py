"""The network lab's scenarios: each a narrated experiment on a running devnet.

`SCENARIOS` maps a name to its `Scenario`; `scenario.run(lab, args)` yields lines
and ends with a `Verdict` (see base.py). The `tuichain lab` command and the Lab
screen both run them through this registry.
"""

from __future__ import annotations

from . import doublespend, flood, lighter, reorg, replay, timewarp
from .base import LabError, Scenario, Step, Verdict
from .client import Lab

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("double-spend", doublespend.SUMMARY, doublespend.run),
        Scenario("replay", replay.SUMMARY, replay.run),
        Scenario("time-warp", timewarp.SUMMARY, timewarp.run),
        Scenario("flood", flood.SUMMARY, flood.run),
        Scenario("reorg", reorg.SUMMARY, reorg.run, usage="N"),
        Scenario("lighter-longer", lighter.SUMMARY, lighter.run),
    )
}

__all__ = ["SCENARIOS", "Lab", "LabError", "Scenario", "Step", "Verdict"]
