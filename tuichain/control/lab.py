"""The network lab's link control: split a devnet into groups, heal it, slow its links.

This is the Python API behind `tuichain devnet split/heal/delay/links` and the
dashboard's Lab screen (re-exported as `tuichain.devnet.links`). It lives on the
node floor, beside the control channel it drives, so the dashboard may use it;
it needs only the standard library.

    lab = Lab.open(Path("~/.tuichain/devnet").expanduser())
    lab.split([[1, 2], [3]])          # node1 and node2 | node3: no message crosses
    lab.delay(1, 3, 0.8)              # every message between node1 and node3 waits 0.8 s
    for row in lab.links(): ...       # per node: its links, up/down, counters each way
    lab.heal()                        # one network again; links come back within seconds
    lab.clear_delays()

What the lab is told is kept in `links.json` in the devnet folder (the groups
and the delays, by node number), and every node gets its own part of it, as a
link filter of proven node ids (`net/links.py`), through its control channel
(`PUT /control/links`, with the node's cookie). Applying is all or nothing:
every node is asked its node id first, and if one does not answer nothing is
changed. A devnet that starts again starts healed.

A node belongs to a devnet when its data directory is `nodeK` in a folder
holding `devnet.json` (how `tuichain devnet` lays it out): `Lab.of_data_dir`.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import PREFIX, cookie_path

DEVNET_FILE = "devnet.json"
LINKS_FILE = "links.json"
HOST = "127.0.0.1"
TIMEOUT = 10.0
MAX_DELAY = 60.0  # seconds, as net/links.py allows

# No proxies: a devnet's nodes are on 127.0.0.1, whatever http_proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LabError(Exception):
    """Something the user can fix; one line."""


@dataclass(frozen=True)
class LabNode:
    index: int
    port: int
    data_dir: Path

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class LinkPlan:
    """What the lab was told: the groups (None: one network) and delays by node pair."""

    groups: list[list[int]] | None = None
    delays: dict[tuple[int, int], float] = field(default_factory=dict)

    @property
    def partitioned(self) -> bool:
        return self.groups is not None and len(self.groups) > 1

    def group_of(self, index: int) -> int | None:
        """The 1-based group of a node while split, else None."""
        for number, group in enumerate(self.groups or [], 1):
            if index in group:
                return number
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "groups": self.groups,
            "delays": [{"a": a, "b": b, "ms": round(s * 1000)}
                       for (a, b), s in sorted(self.delays.items())],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LinkPlan:
        groups = doc.get("groups")
        delays = {(int(d["a"]), int(d["b"])): float(d["ms"]) / 1000
                  for d in doc.get("delays", [])}
        return cls([list(map(int, g)) for g in groups] if groups else None, delays)


@dataclass(frozen=True)
class NodeLinks:
    """One node's answer to GET /control/links (None fields: it did not answer)."""

    node: LabNode
    error: str | None
    node_id: str | None = None
    partitioned: bool = False
    links: list[dict[str, Any]] = field(default_factory=list)
    split_reports: list[dict[str, Any]] = field(default_factory=list)  # after heals, oldest first

    def link_to(self, node_id: str | None) -> dict[str, Any] | None:
        return next((lk for lk in self.links if lk["node_id"] == node_id), None)


# --- parsing what people type -------------------------------------------------------


def parse_groups(text: str, nodes: int) -> list[list[int]]:
    """"1,2/3" -> [[1, 2], [3]]: every node in exactly one of at least two groups."""
    groups: list[list[int]] = []
    for part in text.split("/"):
        try:
            group = [int(k) for k in part.split(",") if k.strip()]
        except ValueError:
            raise LabError(f"{text!r}: groups are node numbers like 1,2/3") from None
        if not group:
            raise LabError(f"{text!r}: an empty group (write groups like 1,2/3)")
        groups.append(group)
    if len(groups) < 2:
        raise LabError(f"{text!r}: name at least two groups separated by '/', e.g. 1,2/3")
    named = [k for g in groups for k in g]
    for k in named:
        if not 1 <= k <= nodes:
            raise LabError(f"there is no node{k}: the devnet has nodes 1 to {nodes}")
        if named.count(k) > 1:
            raise LabError(f"node{k} is in two groups")
    missing = [k for k in range(1, nodes + 1) if k not in named]
    if missing:
        raise LabError(f"node{missing[0]} is in no group: name every node, e.g. "
                       f"{','.join(map(str, range(1, nodes)))}/{nodes}")
    return [sorted(g) for g in groups]


def parse_pair(text: str, nodes: int) -> tuple[int, int]:
    """"1-3" -> (1, 3)."""
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not match:
        raise LabError(f"{text!r}: name a link as two node numbers, e.g. 1-3")
    a, b = sorted((int(match[1]), int(match[2])))
    if a == b:
        raise LabError(f"{text!r}: a link joins two different nodes")
    for k in (a, b):
        if not 1 <= k <= nodes:
            raise LabError(f"there is no node{k}: the devnet has nodes 1 to {nodes}")
    return a, b


def parse_delay(text: str) -> float:
    """"800ms", "1.5s" or "800" (milliseconds) -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", text)
    if not match:
        raise LabError(f"{text!r}: a delay is like 800ms or 1.5s")
    seconds = float(match[1]) / (1 if match[2] == "s" else 1000)
    if seconds > MAX_DELAY:
        raise LabError(f"{text!r}: at most {MAX_DELAY:.0f}s (longer is a split: use split)")
    return seconds


# --- the lab ----------------------------------------------------------------------------


class Lab:
    def __init__(self, directory: Path, nodes: list[LabNode]) -> None:
        self.directory = directory
        self.nodes = nodes

    @classmethod
    def open(cls, directory: Path) -> Lab:
        path = directory / DEVNET_FILE
        try:
            doc = json.loads(path.read_text())
            count, base = int(doc["nodes"]), int(doc["base_port"])
        except FileNotFoundError:
            raise LabError(f"no devnet in {directory} (start one with `tuichain devnet`)"
                           ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LabError(f"cannot read {path}: {exc}") from None
        nodes = [LabNode(i, base + i - 1, directory / f"node{i}") for i in range(1, count + 1)]
        return cls(directory, nodes)

    @classmethod
    def of_data_dir(cls, data_dir: Path) -> tuple[Lab, LabNode] | None:
        """The devnet this data directory's node belongs to, and which node it is."""
        directory = data_dir.absolute().parent
        if not re.fullmatch(r"node\d+", data_dir.name) or not (directory / DEVNET_FILE).exists():
            return None
        try:
            lab = cls.open(directory)
        except LabError:
            return None
        me = next((n for n in lab.nodes if n.data_dir.name == data_dir.name), None)
        return None if me is None else (lab, me)

    def node(self, index: int) -> LabNode:
        return self.nodes[index - 1]

    # ---- the plan ------------------------------------------------------------------
    def plan(self) -> LinkPlan:
        try:
            return LinkPlan.from_json(json.loads((self.directory / LINKS_FILE).read_text()))
        except FileNotFoundError:
            return LinkPlan()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LabError(f"cannot read {self.directory / LINKS_FILE}: {exc}; "
                           "`tuichain devnet heal` starts afresh") from None

    def reset(self) -> None:
        """Forget the plan (a devnet that starts again starts as one network)."""
        (self.directory / LINKS_FILE).unlink(missing_ok=True)

    def split(self, groups: list[list[int]]) -> LinkPlan:
        plan = self.plan()
        plan.groups = parse_groups("/".join(",".join(map(str, g)) for g in groups),
                                   len(self.nodes))
        return self.apply(plan)

    def heal(self) -> LinkPlan:
        plan = self.plan() if (self.directory / LINKS_FILE).exists() else LinkPlan()
        plan.groups = None
        return self.apply(plan)

    def delay(self, a: int, b: int, seconds: float) -> LinkPlan:
        plan = self.plan()
        pair = parse_pair(f"{a}-{b}", len(self.nodes))
        if seconds > 0:
            plan.delays[pair] = seconds
        else:
            plan.delays.pop(pair, None)
        return self.apply(plan)

    def clear_delays(self) -> LinkPlan:
        plan = self.plan()
        plan.delays.clear()
        return self.apply(plan)

    def apply(self, plan: LinkPlan) -> LinkPlan:
        """Tell every node its part of the plan, then keep the plan; all or nothing."""
        ids = self.node_ids()
        missing = [n.name for n in self.nodes if ids.get(n.index) is None]
        if missing:
            raise LabError(f"{', '.join(missing)} did not answer: start the devnet first "
                           "(nothing was changed)")
        for node in self.nodes:
            _call(node, "PUT", "/links", _filter_for(node.index, plan, ids, self.nodes))
        tmp = self.directory / (LINKS_FILE + ".tmp")
        tmp.write_text(json.dumps(plan.as_json(), indent=2) + "\n")
        os.replace(tmp, self.directory / LINKS_FILE)
        return plan

    # ---- reading -------------------------------------------------------------------
    def links(self) -> list[NodeLinks]:
        """Every node's links as it sees them (asked in parallel)."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            return list(pool.map(_links_of, self.nodes))

    def node_ids(self) -> dict[int, str | None]:
        return {row.node.index: row.node_id for row in self.links()}

    def statuses(self) -> list[dict[str, Any] | None]:
        """Each node's public /api/status (None: not answering), asked in parallel."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            return list(pool.map(_status_of, self.nodes))


def _filter_for(index: int, plan: LinkPlan, ids: dict[int, str | None],
                nodes: list[LabNode]) -> dict[str, Any]:
    mine = plan.group_of(index)
    blocked = [
        {"node_id": ids[n.index], "url": n.url}
        for n in nodes
        if plan.partitioned and n.index != index and plan.group_of(n.index) != mine
    ]
    delays = [
        {"node_id": ids[b if a == index else a], "ms": round(s * 1000)}
        for (a, b), s in plan.delays.items()
        if index in (a, b)
    ]
    return {"blocked": blocked, "delays": delays}


def _call(node: LabNode, method: str, path: str, body: Any = None) -> Any:
    try:
        token = cookie_path(node.data_dir).read_text().strip()
    except OSError:
        raise LabError(f"{node.name} is not running (no control cookie in {node.data_dir})"
                       ) from None
    request = urllib.request.Request(
        node.url + PREFIX + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise LabError(f"{node.name} refused: HTTP {exc.code} {exc.read()[:200]!r}") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise LabError(f"{node.name} did not answer on {node.url}: {exc}") from None


def _links_of(node: LabNode) -> NodeLinks:
    try:
        doc = _call(node, "GET", "/links")
    except LabError as exc:
        return NodeLinks(node, str(exc))
    return NodeLinks(node, None, doc["node_id"], bool(doc["partitioned"]), list(doc["links"]),
                     list(doc.get("split_reports", [])))


def _status_of(node: LabNode) -> dict[str, Any] | None:
    try:
        with _OPENER.open(node.url + "/api/status", timeout=2.0) as response:
            doc = json.loads(response.read())
    except (OSError, ValueError, http.client.HTTPException):
        return None
    return doc if isinstance(doc, dict) else None
