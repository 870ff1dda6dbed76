"""One error family for everything the core refuses, each with a code and a reason."""

from __future__ import annotations

from pathlib import Path

from .rejections import Code


class CoreError(Exception):
    """Base of every error the ledger core raises on bad input."""

    code = "error"

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


class DecodeError(CoreError):
    """Bytes that are not exactly one canonical encoding (truncated, extended, out of range)."""

    code = "malformed"


class ValidationError(CoreError):
    """A well-formed object that breaks a consensus or policy rule.

    `code` is machine-readable (stable, used by the network for scoring and by
    tests); `reason` is for people.
    """

    code: Code

    def __init__(self, reason: str, code: Code, *, field: str | None = None,
                 value: str | None = None, expected: str | None = None) -> None:
        super().__init__(reason, code)
        # Where the rule was broken, for the rejection explainer: the offending
        # field, its value as a person reads it, and what the rule allows.
        self.field = field
        self.value = value
        self.expected = expected


class AddressError(CoreError):
    code = "bad-address"


class AmountError(CoreError):
    code = "bad-amount"


class WalletError(CoreError):
    code = "wallet"


class SchemaVersionError(CoreError):
    """A database written by a newer tuichain, whose layout this code cannot know."""

    code = "schema-too-new"

    def __init__(self, path: Path | str, found: int, supported: int) -> None:
        super().__init__(
            f"{path} has database schema version {found}, but this tuichain reads version "
            f"{supported} at most: run a newer tuichain, or use another data directory"
        )
        self.path = path
        self.found = found
        self.supported = supported


class StorageError(CoreError):
    """The store could not write (disk full, read-only file, I/O error): nothing was lost,
    the write was rolled back, and the same call can succeed once the store can write."""

    code = "storage"


class StoreError(CoreError):
    """A chain database the node must not use as it is: read-only, empty where a chain
    was, another program's, or another network's. The reason names the file and the way out."""

    code = "store"
