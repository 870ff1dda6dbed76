"""The local control channel: what only the node's owner may ask of it (mine, start, stop).

The node serves control requests under ``/control`` on its usual port, and
each one must carry ``Authorization: Bearer <token>``. The token is new at
every start and written to ``control.cookie`` in the data directory with
owner-only permissions (0600), so only whoever can read that directory can
use it, as with bitcoind's ``.cookie``. This module holds only the names the
server (``control.server``, aiohttp) and the command-line client share, so
the client loads no HTTP server.
"""

from __future__ import annotations

from pathlib import Path

COOKIE_FILE = "control.cookie"
PREFIX = "/control"
MAX_MINE = 10_000  # blocks one `mine` request may ask for


def cookie_path(data_dir: Path) -> Path:
    return data_dir / COOKIE_FILE
