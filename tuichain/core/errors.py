"""One error family for everything the core refuses, each with a code and a reason."""

from __future__ import annotations


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

    code = "invalid"


class AddressError(CoreError):
    code = "bad-address"


class AmountError(CoreError):
    code = "bad-amount"


class WalletError(CoreError):
    code = "wallet"
