"""One Textual message per node event: the app posts these to every mode screen.

Each wraps the event it reports (`.event`, a dataclass from `core.events`, or
one of the app's own `NodeStart`/`NodeFailure`) and the wall clock it arrived
(`.time`). Screens handle the ones they care about with `on_<name>` methods or
`@on(...)`; `@on(NodeMessage)` sees them all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from textual.message import Message

from .core import events as ev


@dataclass(frozen=True)
class NodeStart:
    """The node runs: screens load their data now."""

    port: int


@dataclass(frozen=True)
class NodeFailure:
    """The node could not start (or stopped on an error); `reason` says why."""

    reason: str


NodeEvent: TypeAlias = (
    ev.NewTip | ev.Reorg | ev.BlockRejected | ev.TxAccepted | ev.TxRejected | ev.BlockFound
    | ev.MinerUpdate | ev.PeersChanged | ev.WalletChanged | ev.LogEvent | NodeStart
    | NodeFailure
)
"""Every event a node message carries."""

E = TypeVar("E", bound=NodeEvent)


# The app forwards copies to screens; bubbling back up would loop forever. (A
# class attribute `bubble = False` is not enough: Message.__init_subclass__
# resets it from the class keyword, which defaults to True.)
class NodeMessage(Message, Generic[E], bubble=False):
    def __init__(self, event: E, when: float | None = None) -> None:
        super().__init__()
        self.event = event
        self.time = time.time() if when is None else when


class NewTip(NodeMessage[ev.NewTip], bubble=False):
    pass


class Reorg(NodeMessage[ev.Reorg], bubble=False):
    pass


class BlockRejected(NodeMessage[ev.BlockRejected], bubble=False):
    pass


class TxAccepted(NodeMessage[ev.TxAccepted], bubble=False):
    pass


class TxRejected(NodeMessage[ev.TxRejected], bubble=False):
    pass


class BlockFound(NodeMessage[ev.BlockFound], bubble=False):
    pass


class MinerUpdate(NodeMessage[ev.MinerUpdate], bubble=False):
    def can_replace(self, message: Message) -> bool:
        # Only the latest progress matters: a newer one queued behind this one wins.
        return isinstance(message, MinerUpdate)


class PeersChanged(NodeMessage[ev.PeersChanged], bubble=False):
    pass


class WalletChanged(NodeMessage[ev.WalletChanged], bubble=False):
    pass


class LogEvent(NodeMessage[ev.LogEvent], bubble=False):
    pass


class NodeStarted(NodeMessage[NodeStart], bubble=False):
    pass


class NodeFailed(NodeMessage[NodeFailure], bubble=False):
    pass


_FOR_EVENT: dict[type[Any], type[NodeMessage[Any]]] = {
    ev.NewTip: NewTip,
    ev.Reorg: Reorg,
    ev.BlockRejected: BlockRejected,
    ev.TxAccepted: TxAccepted,
    ev.TxRejected: TxRejected,
    ev.BlockFound: BlockFound,
    ev.MinerUpdate: MinerUpdate,
    ev.PeersChanged: PeersChanged,
    ev.WalletChanged: WalletChanged,
    ev.LogEvent: LogEvent,
    NodeStart: NodeStarted,
    NodeFailure: NodeFailed,
}


def message_for(event: NodeEvent, when: float | None = None) -> NodeMessage[Any]:
    """The message that carries `event`; every event the node publishes has one."""
    return _FOR_EVENT[type(event)](event, when)
