"""What the network needs from the node it serves, as a Protocol, so net never imports Node."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ..core.events import EventBus
from ..core.identity import NodeIdentity
from ..core.ledger import Ledger
from ..core.params import NetworkParams


class StatusReport(Protocol):
    def as_json(self) -> dict[str, Any]: ...


class NodeContext(Protocol):
    @property
    def params(self) -> NetworkParams: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def node_id(self) -> str: ...

    @property
    def identity(self) -> NodeIdentity:
        """The node's key; the handshake proves it (node_id is its id)."""

    @property
    def listen_url(self) -> str:
        """The URL peers are told to dial (the version message, own-address checks)."""

    @property
    def data_dir(self) -> Path:
        """Where the address book lives."""

    @property
    def pinned_peers(self) -> Sequence[str]:
        """Peers dialled first and kept connected whatever the outbound target."""

    @property
    def target_outbound(self) -> int: ...

    def status(self) -> StatusReport:
        """What GET /api/status answers."""
