"""The dashboard keeps its start-up objects out of later garbage collections."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.screen import Screen

from tuichain.app import TuichainApp
from tuichain.node import Node

from .conftest import MakeConfig, app_started, until

SIZE = (80, 24)


def collected(obj: object) -> bool:
    """Whether a full collection would walk `obj` (frozen objects are left out)."""
    return any(o is obj for o in gc.get_objects())


@asynccontextmanager
async def started_app(make_config: MakeConfig) -> AsyncIterator[tuple[Node, Screen[object]]]:
    """A real app and node, up and past the freeze that follows its first screens
    (from nothing frozen, so whatever is frozen is the app's doing)."""
    gc.unfreeze()
    app = TuichainApp(make_config("a"))
    async with app.run_test(size=SIZE) as pilot:
        node = await app_started(pilot)
        screen = app.screen
        await until(pilot, lambda: not collected(screen), "the screen to be frozen")
        yield node, screen


async def test_the_first_screen_and_the_node_are_frozen_once_up(
    make_config: MakeConfig,
) -> None:
    # A full collection walks every tracked object on the screen's thread: during a
    # sync, one that also walked the widgets and the node froze the screen 40-77 ms.
    async with started_app(make_config) as (node, _):
        assert not collected(node.ledger)
        assert gc.get_freeze_count() > 0
        # Objects made after the freeze are collected as usual.
        later: list[object] = []
        assert collected(later)


async def test_leaving_the_app_gives_its_objects_back_to_the_collector(
    make_config: MakeConfig,
) -> None:
    # Frozen objects in a cycle are never freed: a process that runs the app again
    # (as the tests do) would keep every earlier app's screens and node.
    async with started_app(make_config) as (_, screen):
        pass
    assert gc.get_freeze_count() == 0
    assert collected(screen)
