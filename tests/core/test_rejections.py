"""The registry of rejection codes: stable wire values, one explanation each, used everywhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tuichain.core.rejections import EXPLANATIONS, Code

PACKAGE = Path(__file__).resolve().parents[2] / "tuichain"

# On the wire, in the REST API and in peer scoring: a rename breaks other nodes.
WIRE_VALUES = {
    "wrong-network", "unexpected-coinbase", "bad-amount", "bad-fee", "bad-signature",
    "bad-nonce", "insufficient-funds", "duplicate", "replacement-fee-too-low", "mempool-full",
    "own-address", "bad-bits", "bad-pow", "time-too-new", "time-too-old", "block-too-large",
    "no-coinbase", "bad-coinbase", "multiple-coinbase", "duplicate-txid", "bad-merkle",
    "bad-coinbase-height", "bad-coinbase-amount", "orphan", "bad-prevblk", "known-invalid",
    "bad-genesis", "low-work-headers", "wrong-genesis", "wrong-protocol", "self-connection",
    "banned", "too-many", "bad-proof", "shutting-down", "malformed", "closed", "timeout",
    "link-cut",
    "less-work", "rate-limited",
}


def test_values_stay_the_wire_strings() -> None:
    assert {c.value for c in Code} == WIRE_VALUES
    assert Code.BAD_NONCE == "bad-nonce"
    assert f"{Code.TIME_TOO_NEW}" == "time-too-new"


@pytest.mark.parametrize("code", list(Code), ids=str)
def test_every_code_has_a_one_line_explanation(code: Code) -> None:
    text = code.explanation
    assert text
    assert "\n" not in text
    assert text[0].isupper()
    assert text.endswith(".")
    assert len(text) <= 100


def test_no_explanation_for_a_code_that_does_not_exist() -> None:
    assert set(EXPLANATIONS) == set(Code)


def _literal_codes(call_name: str, position: int) -> list[tuple[str, int, str]]:
    """String literals passed as argument `position` of calls to `call_name` in the package."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id != call_name or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((path.name, node.lineno, arg.value))
    return found


def test_no_validation_error_takes_a_free_string_code() -> None:
    assert _literal_codes("ValidationError", 1) == []


def test_handshake_refusals_take_no_free_string_code() -> None:
    # Refused also carries codes a peer sent, so it takes a str; our own refusals name a Code.
    assert _literal_codes("Refused", 0) == []
