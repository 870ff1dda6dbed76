"""The network lab: the devnet's nodes side by side, and keys to split, heal and slow it.

Shown when this node's data directory is a devnet's `nodeK` (`Lab.of_data_dir`).
Every few seconds it asks each node its public status and its links (in a
thread: the calls block); the keys drive the same `tuichain.control.lab` API
as `tuichain devnet split/heal/delay`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, Static

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
from ..widgets.focus import focus_at_once, typing
from ..widgets.inputs import TextBox

REFRESH_SECONDS = 2.0


def lab_text(lab: Lab, me: LabNode, plan: LinkPlan, statuses: list[dict[str, Any] | None],
             links: list[NodeLinks]) -> Text:
    t = Text()
    state = ("partitioned: " + " | ".join(",".join(map(str, g)) for g in plan.groups or [])
             if plan.partitioned else "one network")
    t.append(f"{state}\n\n", style="bold red" if plan.partitioned else "bold green")
    t.append(f"{'node':<8}{'group':<7}{'height':>7}  {'tip':<18}{'peers':>6}\n", style="bold")
    for node, status in zip(lab.nodes, statuses, strict=True):
        group = plan.group_of(node.index)
        name = node.name + ("*" if node == me else "")
        if status is None:
            t.append(f"{name:<8}{'':<7}{'down':>7}\n", style="dim")
            continue
        t.append(f"{name:<8}{(str(group) if group else '-'):<7}{status['height']:>7}  "
                 f"{str(status['tip'])[:16]:<18}{status['peers']:>6}\n")
    ids = {r.node.index: r.node_id for r in links}
    slow = [f"node{a}-node{b} {s * 1000:.0f} ms" for (a, b), s in sorted(plan.delays.items())]
    if slow:
        t.append("\ndelays: " + ", ".join(slow) + "\n")
    t.append("\nlinks (messages → / ←)\n", style="bold")
    for row in links:
        for other in lab.nodes:
            if other.index <= row.node.index:
                continue
            seen = row.link_to(ids.get(other.index))
            if seen is None:
                continue
            word = "cut" if seen["cut"] else "up" if seen["up"] else "down"
            t.append(f"  {row.node.name}-{other.name}  ")
            t.append(f"{word:<5}", style="red" if word != "up" else "green")
            t.append(f" {seen['messages_sent']} / {seen['messages_received']}\n")
    reports = [(r.node.name, rep) for r in links for rep in r.split_reports[-1:]]
    if reports:
        t.append("\nafter the heal\n", style="bold")
        for name, rep in reports:
            t.append(f"  {name}: {rep['text']}\n")
    return t


class LabScreen(Screen[None]):
    DEFAULT_CSS = """
    LabScreen #lab-title { height: 1; padding: 0 1; background: $boost; }
    LabScreen #lab-body { padding: 0 1; height: auto; }
    LabScreen #lab-input { display: none; }
    LabScreen #lab-input.asking { display: block; }
    LabScreen #lab-narration { padding: 0 1; height: auto; }
    """
    AUTO_FOCUS = None  # the keys are the screen's; the input only takes them when asked
    BINDINGS: ClassVar[list[BindingType]] = [
        # The keys that open the box are priority ones: they focus it as they arrive,
        # so what is typed right behind them lands in it (widgets/focus.py).
        Binding("s", "ask('split')", "Split", priority=True),
        Binding("h", "heal", "Heal"),
        Binding("d", "ask('delay')", "Delay", priority=True),
        Binding("c", "clear_delays", "No delay"),
        Binding("r", "ask('scenario')", "Run", priority=True),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "ask" and typing(self))

    def __init__(self) -> None:
        super().__init__()
        self._asking: str | None = None
        self.last_text = ""
        self.narration = ""  # the running or last scenario's lines, as shown

    @property
    def lab(self) -> tuple[Lab, LabNode] | None:
        found: tuple[Lab, LabNode] | None = getattr(self.app, "lab", None)
        return found

    def compose(self) -> ComposeResult:
        yield Static("Network lab", id="lab-title")
        yield TextBox(id="lab-input", disabled=True)
        yield Static("asking the devnet's nodes…", id="lab-body")
        yield Static("", id="lab-narration")

    def on_mount(self) -> None:
        found = self.lab
        if found is not None:
            self.query_one("#lab-title", Static).update(
                f"Network lab: {found[0].directory} (this is {found[1].name})")
        self.reload()
        self.set_interval(REFRESH_SECONDS, self.reload)

    @work(exclusive=True, group="lab-reload", exit_on_error=False)
    async def reload(self) -> None:
        found = self.lab
        if found is None:
            self.query_one("#lab-body", Static).update("this node is not part of a devnet")
            return
        lab, me = found
        try:
            plan, statuses, links = await asyncio.to_thread(
                lambda: (lab.plan(), lab.statuses(), lab.links()))
        except LabError as exc:
            self.query_one("#lab-body", Static).update(Text(str(exc), style="red"))
            return
        text = lab_text(lab, me, plan, statuses, links)
        self.last_text = text.plain
        self.query_one("#lab-body", Static).update(text)

    def action_ask(self, what: str) -> None:
        found = self.lab
        if found is None:
            return
        box = self.query_one("#lab-input", Input)
        n = len(found[0].nodes)
        self._asking = what
        box.placeholder = (
            f"groups, e.g. {','.join(map(str, range(1, n)))}/{n} (enter)" if what == "split"
            else "scenario: double-spend, replay, time-warp, flood, reorg N, lighter-longer"
            if what == "scenario" else "link and delay, e.g. 1-3 800ms (enter)")
        box.value = ""
        box.disabled = False
        box.add_class("asking")
        focus_at_once(self, box)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#lab-input", Input)
        box.remove_class("asking")
        box.disabled = True
        what, self._asking = self._asking, None
        found = self.lab
        if found is None or what is None:
            return
        lab = found[0]
        if what == "scenario":
            if event.value.split():
                self.run_scenario(event.value.split())
            return
        try:
            if what == "split":
                groups = parse_groups(event.value, len(lab.nodes))
                self._change(lambda: lab.split(groups))
            else:
                link, _, delay = event.value.strip().partition(" ")
                a, b = parse_pair(link, len(lab.nodes))
                seconds = parse_delay(delay)
                self._change(lambda: lab.delay(a, b, seconds))
        except LabError as exc:
            self.notify(str(exc), severity="error")

    @work(exclusive=True, group="lab-scenario", exit_on_error=False)
    async def run_scenario(self, words: list[str]) -> None:
        """`tuichain lab NAME` in a process of its own (its forging and grinding stay off
        this loop), its narration streamed line by line below the table."""
        found = self.lab
        if found is None:
            return
        shown = self.query_one("#lab-narration", Static)
        lines = [f"tuichain lab {' '.join(words)}"]
        shown.update(Text("\n".join(lines), style="bold"))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tuichain", "lab", *words, "--dir", str(found[0].directory),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        assert proc.stdout is not None
        try:
            async for raw in proc.stdout:
                lines.append(raw.decode(errors="replace").rstrip())
                self.narration = "\n".join(lines)
                shown.update(self.narration)
            code = await proc.wait()
        finally:
            if proc.returncode is None:  # the screen went away mid-run: stop the scenario
                proc.terminate()
                await proc.wait()
        lines.append("the nodes behaved as the rule says" if code == 0
                     else f"the scenario did not hold (exit {code})")
        self.narration = "\n".join(lines)
        shown.update(self.narration)

    def key_escape(self) -> None:
        box = self.query_one("#lab-input", Input)
        box.remove_class("asking")
        box.disabled = True
        self._asking = None

    def action_heal(self) -> None:
        if self.lab is not None:
            self._change(self.lab[0].heal)

    def action_clear_delays(self) -> None:
        if self.lab is not None:
            self._change(self.lab[0].clear_delays)

    @work(group="lab-change", exit_on_error=False)
    async def _change(self, do: Any) -> None:
        try:
            plan: LinkPlan = await asyncio.to_thread(do)
        except LabError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify("partitioned" if plan.partitioned else "one network")
        self.reload()
        refresh = getattr(self.app, "refresh_status", None)
        if refresh is not None:
            refresh()
