"""Text boxes: editing keys in order with the text, and boxes that check what is typed
as it is typed (addresses and decimal amounts).

The parse functions are the core's own (decode_address, parse_amount), so the
form refuses exactly what the node would refuse, with the same reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from textual import events
from textual.validation import ValidationResult, Validator
from textual.widgets import Input

from ..core.amounts import parse_amount
from ..core.errors import CoreError

T = TypeVar("T")


class _ParseValidator(Validator, Generic[T]):
    def __init__(self, parse: Callable[[str], T]) -> None:
        super().__init__()
        self._parse = parse

    def validate(self, value: str) -> ValidationResult:
        try:
            self._parse(value)
        except CoreError as exc:
            return self.failure(exc.reason, value)
        except ValueError as exc:
            return self.failure(str(exc), value)
        return self.success()


class TextBox(Input):
    """An Input whose editing keys act in order with the characters typed around them.

    Textual types a character in the box's own message queue but runs the box's key
    bindings (backspace, ctrl+a, ctrl+k, the arrows, enter) only once the key has
    bubbled up to the app. In a burst (a fast typist, a busy app) `ctrl+a ctrl+k abc`
    therefore typed abc first, then went home and erased it all. The box runs its own
    bindings as each key reaches it instead.
    """

    async def _on_key(self, event: events.Key) -> None:
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                return
        await super()._on_key(event)


class CheckedInput(TextBox, Generic[T]):
    """An Input whose value must parse; `.parsed` is the value or None, `.error` why not."""

    DEFAULT_CSS = """
    CheckedInput.-invalid { color: $text-error; }
    """

    def __init__(self, parse: Callable[[str], T], **kwargs: Any) -> None:
        kwargs.setdefault("compact", True)
        super().__init__(
            validators=[_ParseValidator(parse)], validate_on=["changed", "submitted"], **kwargs
        )
        self._parse = parse

    @property
    def parsed(self) -> T | None:
        try:
            return self._parse(self.value)
        except (CoreError, ValueError):
            return None

    @property
    def error(self) -> str | None:
        try:
            self._parse(self.value)
        except CoreError as exc:
            return exc.reason
        except ValueError as exc:
            return str(exc)
        return None


class AddressInput(CheckedInput[bytes]):
    """A recipient address; `parse` is the node's parse_address (network prefix + checksum)."""

    def __init__(self, parse: Callable[[str], bytes], **kwargs: Any) -> None:
        kwargs.setdefault("placeholder", "recipient address")
        super().__init__(lambda text: parse(text.strip()), **kwargs)


class AmountInput(CheckedInput[int]):
    """A decimal coin amount, parsed exactly into integer units."""

    def __init__(self, *, allow_zero: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("placeholder", "0.0")
        super().__init__(lambda text: parse_amount(text, allow_zero=allow_zero), **kwargs)
