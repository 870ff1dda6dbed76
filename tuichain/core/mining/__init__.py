"""Mining: the controller on the event loop, the process pool, its asyncio adapter, the worker.

The names load on first use: a spawned worker imports `mining.worker`, which runs
this file first, and must not drag the ledger and SQLite into every worker.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import AsyncMiner
    from .controller import MiningController, MiningStats
    from .pool import MinerEvent, MinerPool, MinerProgress, MinerSolution, MiningJob

__all__ = [
    "AsyncMiner",
    "MinerEvent",
    "MinerPool",
    "MinerProgress",
    "MinerSolution",
    "MiningController",
    "MiningJob",
    "MiningStats",
]

_HOME = {
    "AsyncMiner": "adapter",
    "MiningController": "controller",
    "MiningStats": "controller",
    "MinerEvent": "pool",
    "MinerPool": "pool",
    "MinerProgress": "pool",
    "MinerSolution": "pool",
    "MiningJob": "pool",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{home}", __name__), name)
