"""The chain store: one interface, two backends (SQLite, the embedded default; PostgreSQL).

The ledger core talks only to `Store`; every SQL statement lives in a backend
module (`sqlite.py`, `postgres.py`). Each write path of the chain (storing a
block, connecting it, a reorg, a mempool update) is one database transaction
on both, so a crash or a lost connection leaves either all of it or none.

`open_store` picks the backend from what it is given: a path is an SQLite
file, a ``postgresql://`` URL is a server (see `postgres.py` for the schema
per network and the lock that keeps two nodes off one chain).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from .base import (
    HAVE_DATA,
    HEADER_ONLY,
    INVALID,
    PREFIX_TABLES,
    URL_SCHEMES,
    HeaderEntry,
    RunRows,
    Store,
    blob_to_work,
    decode_undo,
    encode_undo,
    prefix_range,
    redact,
    work_to_blob,
)

__all__ = [
    "HAVE_DATA", "HEADER_ONLY", "INVALID", "PREFIX_TABLES", "URL_SCHEMES", "HeaderEntry",
    "RunRows",
    "Store", "blob_to_work", "decode_undo", "encode_undo", "is_url", "open_store",
    "prefix_range", "redact", "work_to_blob",
]

def is_url(target: str | Path) -> bool:
    return isinstance(target, str) and urlsplit(target).scheme in URL_SCHEMES


def open_store(target: str | Path, network: str, *, readonly: bool = False,
               adopt_empty: bool = True) -> Store:
    """The chain of ``network`` at ``target``: an SQLite file path, or a
    ``postgresql://`` URL (its schema ``tuichain_<network>`` unless the URL names one
    with ``?schema=``). StoreError if it is not ours to use; for a URL, also if the
    psycopg driver (the ``tuichain[postgres]`` extra) is not installed."""
    if is_url(target):
        try:
            from .postgres import PostgresStore
        except ModuleNotFoundError as exc:
            if exc.name != "psycopg":
                raise
            from ..errors import StoreError
            raise StoreError(
                "a PostgreSQL --db needs the psycopg driver: "
                "pip install 'tuichain[postgres]'"
            ) from None
        return PostgresStore(str(target), network, readonly=readonly)
    from .sqlite import SqliteStore
    return SqliteStore(Path(target), readonly=readonly, adopt_empty=adopt_empty)
