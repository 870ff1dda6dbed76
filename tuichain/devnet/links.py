"""`tuichain devnet split/heal/delay/links`, and the lab's Python API for scripts.

The API is `tuichain.control.lab` (on the node floor, so the dashboard's Lab
screen uses the same code); it is re-exported here for commands and scenarios:

    from tuichain.devnet.links import Lab
    lab = Lab.open(directory)
    lab.split([[1, 2], [3]]); lab.heal(); lab.delay(1, 3, 0.8); lab.clear_delays()
    lab.links()   # list[NodeLinks]: per node, each link's up/cut/delay/counters
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..cli.args import Parser
from ..cli.errors import EXIT_FAILURE, EXIT_USAGE
from ..control.lab import (
    Lab,
    LabError,
    LabNode,
    LinkPlan,
    NodeLinks,
    parse_delay,
    parse_groups,
    parse_pair,
)

__all__ = [
    "Lab", "LabError", "LabNode", "LinkPlan", "NodeLinks", "links_main", "parse_delay",
    "parse_groups", "parse_pair",
]

COMMANDS = ("split", "heal", "delay", "links")

HELP = {
    "split": "Split the devnet into groups (e.g. 1,2/3): no message of any kind crosses "
    "between groups, each group goes on mining its own chain. Every node obeys a link "
    "filter set through its control channel.",
    "heal": "Join the groups again: the nodes reconnect within seconds and the chain with "
    "the most work wins on every node.",
    "delay": "Hold every message on a link (e.g. 1-3) for a while (e.g. 800ms), both ways; "
    "`delay clear` removes every delay.",
    "links": "Every link of the devnet: up or down, cut or not, its delay, messages and "
    "bytes each way.",
}


def _parser(command: str) -> argparse.ArgumentParser:
    parser = Parser(prog=f"tuichain devnet {command}", description=HELP[command])
    parser.add_argument("--dir", type=Path, default=None, metavar="D",
                        help="the devnet folder (default $TUICHAIN_HOME/devnet or "
                        "~/.tuichain/devnet)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    if command == "split":
        parser.add_argument("groups", help="groups of node numbers separated by '/', e.g. 1,2/3")
    if command == "delay":
        parser.add_argument("link", help="two node numbers, e.g. 1-3; or `clear`")
        parser.add_argument("delay", nargs="?", help="e.g. 800ms or 1.5s (0 removes it)")
    return parser


def links_main(command: str, argv: list[str], directory_of: Any) -> int:
    """`tuichain devnet COMMAND ...`; `directory_of` resolves --dir as the other commands do."""
    ns = _parser(command).parse_args(argv)
    try:
        lab = Lab.open(directory_of(ns.dir))
        if command == "links":
            return _show_links(lab, as_json=ns.json)
        if command == "split":
            plan = lab.split(parse_groups(ns.groups, len(lab.nodes)))
        elif command == "heal":
            plan = lab.heal()
        elif ns.link == "clear":
            if ns.delay is not None:
                raise LabError("`delay clear` takes nothing more")
            plan = lab.clear_delays()
        else:
            if ns.delay is None:
                raise LabError("say how long, e.g. `tuichain devnet delay 1-3 800ms`")
            a, b = parse_pair(ns.link, len(lab.nodes))
            plan = lab.delay(a, b, parse_delay(ns.delay))
    except LabError as exc:
        print(f"tuichain devnet {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE if "no group" in str(exc) or "there is no" in str(exc) else EXIT_FAILURE
    if ns.json:
        print(json.dumps({"plan": plan.as_json(), "partitioned": plan.partitioned}))
    else:
        print(describe(plan))
    return 0


def describe(plan: LinkPlan) -> str:
    if plan.partitioned:
        text = "partitioned: " + " | ".join(
            " ".join(f"node{k}" for k in g) for g in plan.groups or [])
    else:
        text = "one network (healed)"
    for (a, b), seconds in sorted(plan.delays.items()):
        text += f"\ndelay node{a}-node{b}: {seconds * 1000:.0f} ms each way"
    return text


def links_rows(lab: Lab, nodes: list[NodeLinks]) -> list[dict[str, Any]]:
    """One row per pair of nodes, as seen from the lower-numbered node."""
    by_index = {r.node.index: r for r in nodes}
    out: list[dict[str, Any]] = []
    for a in lab.nodes:
        for b in lab.nodes:
            if b.index <= a.index:
                continue
            seen = by_index[a.index].link_to(by_index[b.index].node_id)
            out.append({
                "a": a.index, "b": b.index,
                "answered": by_index[a.index].error is None,
                "up": bool(seen and seen["up"]), "cut": bool(seen and seen["cut"]),
                "delay_ms": seen["delay_ms"] if seen else 0,
                "messages_a_to_b": seen["messages_sent"] if seen else 0,
                "messages_b_to_a": seen["messages_received"] if seen else 0,
                "bytes_a_to_b": seen["bytes_sent"] if seen else 0,
                "bytes_b_to_a": seen["bytes_received"] if seen else 0,
            })
    return out


def _show_links(lab: Lab, *, as_json: bool) -> int:
    plan = lab.plan()
    nodes = lab.links()
    rows = links_rows(lab, nodes)
    if as_json:
        print(json.dumps({
            "plan": plan.as_json(), "partitioned": plan.partitioned,
            "nodes": [{"name": n.node.name, "node_id": n.node_id, "error": n.error,
                       "partitioned": n.partitioned, "links": n.links} for n in nodes],
            "links": rows,
        }))
    else:
        print(describe(plan))
        for n in nodes:
            if n.error:
                print(f"  {n.node.name}: {n.error}")
        for r in rows:
            state = "cut" if r["cut"] else "up" if r["up"] else "down"
            delay = f"  delay {r['delay_ms']} ms" if r["delay_ms"] else ""
            print(f"  node{r['a']}-node{r['b']}  {state:<4}{delay}  "
                  f"→ {r['messages_a_to_b']} msgs {r['bytes_a_to_b']} B  "
                  f"← {r['messages_b_to_a']} msgs {r['bytes_b_to_a']} B")
    return 0 if all(n.error is None for n in nodes) else EXIT_FAILURE
