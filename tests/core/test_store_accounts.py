"""Accounts read many at once: admission and block runs read a batch's in one query.

One query, not one per address: each statement releases and retakes the GIL, and
with the event loop busy each retake could wait a whole switch interval.
"""

from __future__ import annotations

from tuichain.core.store import Store


def test_accounts_are_read_many_at_once(store: Store) -> None:
    present = {bytes([i % 256, i // 256]) * 10: (i * 1000, i) for i in range(1, 1200)}
    with store.transaction():
        store.write_accounts(dict(present))
    absent = [b"\xee" * 20, b"\xef" * 20]
    asked = [*present, *absent, next(iter(present))]  # more than one statement's worth
    found = store.accounts(asked)
    assert found == present
    assert store.accounts([]) == {}
    assert all(store.account(a) == found.get(a, (0, 0)) for a in asked[::97])
