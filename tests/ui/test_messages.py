"""The typed node messages: one per event, and miner progress that supersedes itself."""

from __future__ import annotations

import dataclasses
import inspect

from textual.app import App

from tuichain import messages as msg
from tuichain.core import events


def _progress(hashes: int) -> events.MinerUpdate:
    return events.MinerUpdate(True, True, 1, 10.0, hashes, hashes, 1, None, 0, 0)


def test_every_node_event_has_its_own_message() -> None:
    core_events = [
        cls for _, cls in inspect.getmembers(events, inspect.isclass)
        if dataclasses.is_dataclass(cls) and cls.__module__ == events.__name__
    ]
    samples = [
        cls(*[None] * len(dataclasses.fields(cls))) for cls in core_events
    ] + [msg.NodeStart(5000), msg.NodeFailure("port in use")]
    made = [msg.message_for(event, when=1.0) for event in samples]
    assert all(m.event is e and m.time == 1.0 for m, e in zip(made, samples, strict=True))
    assert len({type(m) for m in made}) == len(samples)
    assert not any(type(m).bubble for m in made)


def test_newer_miner_progress_replaces_older_in_the_queue() -> None:
    older, newer = msg.MinerUpdate(_progress(1)), msg.MinerUpdate(_progress(2))
    assert older.can_replace(newer)
    assert not older.can_replace(msg.NewTip(events.NewTip(b"", 1, 0, 0, 0)))
    assert not msg.NewTip(events.NewTip(b"", 1, 0, 0, 0)).can_replace(newer)


class _Counter(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def on_miner_update(self, message: msg.MinerUpdate) -> None:
        self.seen.append(message.event.hashes)


async def test_a_busy_app_handles_only_the_latest_progress() -> None:
    app = _Counter()
    async with app.run_test() as pilot:
        # Posted in one go, before the app's queue runs: the last one wins.
        for hashes in (1, 2, 3):
            app.post_message(msg.MinerUpdate(_progress(hashes)))
        await pilot.pause()
        assert app.seen == [3]
